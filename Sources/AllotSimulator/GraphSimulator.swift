import AllotCore
import AllotTools
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The built-in Microsoft Graph simulator: the Graph v1.0 endpoints Allot uses, the Entra token
/// endpoint, Azure IMDS and a control API, served over real loopback HTTP(S) by Hummingbird.
///
/// ```swift
/// try await GraphSimulator.withRunning(tenant: snapshot, configuration: .init()) { simulator, endpoints in
///     // point a client at endpoints.graphEndpoint and endpoints.authority
/// }
/// ```
///
/// Everything a test needs to steer it is also a method here: faults, the request log, the
/// tenant's current state, token revocation and the write quota.
public final class GraphSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    let state: SimulatorState
    let issuer: TokenIssuer
    private let tlsMaterial: TLSMaterial?

    /// A problem found while setting up (duplicate ids, unreadable credentials or TLS files):
    /// ``run(onStarted:)`` and ``withRunning(_:)`` throw it instead of serving.
    let setupError: (any Error)?

    /// Loads a snapshot document. A tenant or configuration that cannot be served (duplicate
    /// ids or names, unreadable certificates) makes ``run(onStarted:)`` throw
    /// ``DirectoryLoadError`` or ``SimulatorSetupError``.
    public convenience init(tenant: Snapshot, configuration: SimulatorConfiguration) {
        do {
            let directory = try Directory(
                snapshot: tenant,
                tenantId: configuration.tenantId,
                tenantDomain: configuration.tenantDomain
            )
            self.init(directory: directory, configuration: configuration)
        } catch {
            self.init(
                directory: Directory(tenantId: configuration.tenantId, tenantDomain: configuration.tenantDomain),
                configuration: configuration,
                setupError: error
            )
        }
    }

    /// Generates a tenant straight into the simulator (no intermediate snapshot, so a million
    /// users stay affordable).
    public convenience init(generator: TenantGenerator, configuration: SimulatorConfiguration) {
        var directory = Directory(tenantId: configuration.tenantId, tenantDomain: configuration.tenantDomain)
        generator.generate(into: &directory)
        self.init(directory: directory, configuration: configuration)
    }

    init(directory: Directory, configuration: SimulatorConfiguration, setupError: (any Error)? = nil) {
        self.configuration = configuration
        state = SimulatorState(directory: directory, configuration: configuration)
        var setupError = setupError
        do {
            issuer = try TokenIssuer(configuration: configuration)
        } catch {
            setupError = setupError ?? error
            issuer = TokenIssuer(tenantId: configuration.tenantId, tenantDomain: configuration.tenantDomain)
        }
        do {
            tlsMaterial = try configuration.tls.map(TLSMaterial.init)
        } catch {
            setupError = setupError ?? error
            tlsMaterial = nil
        }
        self.setupError = setupError
    }

    /// Starts serving, runs `body` with the bound endpoints, then shuts the server down.
    public static func withRunning<T: Sendable>(
        tenant: Snapshot,
        configuration: SimulatorConfiguration,
        _ body: @Sendable (GraphSimulator, SimulatorEndpoints) async throws -> T
    ) async throws -> T {
        let simulator = GraphSimulator(tenant: tenant, configuration: configuration)
        return try await simulator.withRunning(body)
    }

    /// Starts serving this simulator, runs `body`, then shuts the server down gracefully
    /// (requests in flight finish first).
    public func withRunning<T: Sendable>(
        _ body: @Sendable (GraphSimulator, SimulatorEndpoints) async throws -> T
    ) async throws -> T {
        let (started, continuation) = AsyncStream.makeStream(of: SimulatorEndpoints.self)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await self.run { endpoints in continuation.yield(endpoints) }
            }
            var iterator = started.makeAsyncIterator()
            guard let endpoints = await iterator.next() else {
                try await tasks.waitForAll()
                throw SimulatorSetupError("the simulator stopped before it started listening")
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(self, endpoints))
            } catch {
                result = .failure(error)
            }
            tasks.cancelAll()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// Serves until the task is cancelled or an enclosing `ServiceGroup` shuts down; either way
    /// the shutdown is graceful (the listener closes, requests in flight finish).
    public func run(onStarted: @escaping @Sendable (SimulatorEndpoints) async -> Void) async throws {
        if let setupError { throw setupError }
        let application = try makeApplication(onStarted: onStarted)
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [application], logger: Self.logger)
        )
        // Unstructured, so that cancelling the caller becomes a graceful shutdown rather than
        // cancelling the server mid-request; task-locals (an enclosing ServiceGroup's graceful
        // shutdown) still reach it.
        let serving = Task { try await services.run() }
        try await withTaskCancellationHandler {
            try await serving.value
        } onCancel: {
            Task { await services.triggerGracefulShutdown() }
        }
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (for `allot simulate`).
    public func runUntilTerminated(onStarted: @escaping @Sendable (SimulatorEndpoints) async -> Void) async throws {
        if let setupError { throw setupError }
        try await makeApplication(onStarted: onStarted).runService()
    }

    private func makeApplication(
        onStarted: @escaping @Sendable (SimulatorEndpoints) async -> Void
    ) throws -> some ApplicationProtocol {
        let responder = SimulatorResponder(simulator: self)
        let server: HTTPServerBuilder
        if let tlsMaterial {
            let tls = try tlsMaterial.serverConfiguration()
            server = HTTPServerBuilder { responder in
                try TLSChannel(NoDelayChildChannel(base: HTTP1Channel(responder: responder)), tlsConfiguration: tls)
            }
        } else {
            server = HTTPServerBuilder { responder in NoDelayChildChannel(base: HTTP1Channel(responder: responder)) }
        }
        let scheme = tlsMaterial == nil ? "http" : "https"
        let host = configuration.host
        let tlsMaterial = tlsMaterial
        return Application(
            responder: responder,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onStarted(
                    SimulatorEndpoints(
                        scheme: scheme,
                        host: host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host,
                        port: port,
                        certificatePath: tlsMaterial?.certificatePath,
                        certificatePEM: tlsMaterial?.certificatePEM
                    )
                )
            },
            logger: Self.logger
        )
    }

    /// Hummingbird's own messages: warnings and errors only.
    private static let logger: Logger = {
        var logger = Logger(label: "allot.simulator")
        logger.logLevel = .warning
        return logger
    }()

    // MARK: Control

    /// Adds a fault; it stays until its `count` is used up or the faults are cleared.
    public func addFault(_ fault: SimulatedFault) {
        state.faults.withLock { $0.add(fault) }
    }

    public func clearFaults() {
        state.faults.withLock { $0.clear() }
    }

    /// The faults in force, in the order added.
    public func faults() -> [SimulatedFault] {
        state.faults.withLock { $0.faults }
    }

    /// Every request answered so far (oldest first), except control API calls.
    public func requestLog() -> [LoggedRequest] {
        state.log.withLock { $0.entries }
    }

    public func clearRequestLog() {
        state.log.withLock { $0.clear() }
    }

    /// How many users the tenant has.
    public var userCount: Int {
        state.directory.withLock { $0.users.count }
    }

    /// The tenant as it is now (as reads see it, with a consistency lag), as a snapshot document.
    public func currentTenant() -> Snapshot {
        let now = configuration.clock.now
        return state.directory.withLock { directory in
            directory.settle(now: now)
            return directory.snapshot()
        }
    }

    /// Every access token issued so far now answers 401.
    public func revokeTokens() {
        state.tokens.withLock { $0.revokeAll() }
    }

    /// Sets (or with `nil` turns off) the write quota; the count starts afresh.
    public func setWriteQuota(_ quota: SimulatedWriteQuota?) {
        state.quota.withLock { $0 = quota.map(WriteQuotaWindow.init) }
    }

    /// Deletes a user, as `DELETE /users/{id}` does (their seats are freed, they leave every
    /// group, later calls naming them answer 404). Users delta reports them removed with reason
    /// `changed` (restorable), or `deleted` when `permanently`. Returns whether the user existed.
    @discardableResult
    public func deleteUser(_ id: GUID, permanently: Bool = false) -> Bool {
        let now = configuration.clock.now
        return state.directory.withLock { directory in
            guard let user = directory.users.index(ofId: id) else { return false }
            directory.deleteUser(user, at: now, permanently: permanently)
            return true
        }
    }

    /// Ends a deleted user for good, as deleting them from Graph's deleted items does: users
    /// delta's next round reports them `deleted`. Returns whether they were a deleted user.
    @discardableResult
    public func purgeDeletedUser(_ id: GUID) -> Bool {
        state.directory.withLock { $0.purgeDeletedUser(id) }
    }

    // MARK: Changing the directory as an administrator would

    /// Creates a user, as `POST /users` does; users delta and a later full read see them.
    /// - Throws: ``DirectoryChangeError`` when the id or user principal name is taken.
    public func createUser(_ user: DirectoryUser) throws(DirectoryChangeError) {
        do {
            try state.directory.withLock { directory throws(DirectoryLoadError) in try directory.createUser(user) }
        } catch {
            throw DirectoryChangeError(error.description)
        }
    }

    /// Sets user properties as `PATCH /users/{id}` does (the same checks and the same
    /// properties, `null` clearing one), at once; users delta reports the change.
    /// - Throws: ``DirectoryChangeError`` with Graph's message for an unknown user or a bad value.
    public func updateUser(_ id: GUID, _ properties: [String: JSONValue]) throws(DirectoryChangeError) {
        do {
            try state.directory.withLock { directory throws(GraphError) in
                try directory.updateUser(id.description, body: .object(properties), visibleAt: nil)
            }
        } catch {
            throw DirectoryChangeError(error.message)
        }
    }

    /// Sets a user's sign-in activity (`nil`: never signed in). Users delta does not report it,
    /// as Graph does not track sign-in activity.
    /// - Throws: ``DirectoryChangeError`` for an unknown user.
    public func setSignInActivity(_ activity: SimulatedSignInActivity?, forUser id: GUID) throws(DirectoryChangeError) {
        try state.directory.withLock { directory throws(DirectoryChangeError) in
            guard let user = directory.users.index(ofId: id) else { throw DirectoryChangeError.unknownUser(id) }
            directory.setProperty("signInActivity", to: activity?.graphValue(), ofUser: user)
        }
    }

    /// Adds a user to a group as a direct member, as `POST /groups/{id}/members/$ref` does.
    /// - Throws: ``DirectoryChangeError`` with Graph's message (already a member, unknown object).
    public func addMember(_ user: GUID, toGroup group: GUID) throws(DirectoryChangeError) {
        try changeMembership(of: user, in: group) { directory, user, group, now throws(GraphError) in
            try directory.addMember(user: user, to: group, at: now)
        }
    }

    /// Ends a user's direct membership of a group, as `DELETE /groups/{id}/members/{id}/$ref` does.
    /// - Throws: ``DirectoryChangeError`` with Graph's message (not a direct member, unknown object).
    public func removeMember(_ user: GUID, fromGroup group: GUID) throws(DirectoryChangeError) {
        try changeMembership(of: user, in: group) { directory, userIndex, group, now throws(GraphError) in
            try directory.removeMember(user: userIndex, from: group, key: user.description, at: now)
        }
    }

    /// Finds the user and group (Graph's 404 or 400 otherwise) and makes a membership change.
    private func changeMembership(
        of user: GUID,
        in group: GUID,
        _ change: (inout Directory, Int, Int, ContinuousClock.Instant) throws(GraphError) -> Void
    ) throws(DirectoryChangeError) {
        let now = configuration.clock.now
        do {
            try state.directory.withLock { directory throws(GraphError) in
                let groupIndex = try GraphService.groupIndex(group.description, in: directory)
                guard let userIndex = directory.users.index(ofId: user) else {
                    throw GraphError.notFound(user.description)
                }
                try change(&directory, userIndex, groupIndex, now)
            }
        } catch {
            throw DirectoryChangeError(error.message)
        }
    }

    /// Expires every users and groups delta token issued so far: following any of them answers
    /// `410 Gone` with `syncStateNotFound`, as after Graph's token lifetime or a sync reset.
    public func expireDeltaTokens() {
        state.deltaTokenGeneration.withLock { $0 += 1 }
    }

    /// Gives the tenant Microsoft Entra ID P1 (or takes it away): without it, selecting or
    /// filtering on `signInActivity` answers 403.
    public func setEntraIDPremium(_ premium: Bool) {
        state.entraIDPremium.withLock { $0 = premium }
    }

    /// Grants a client (application or managed identity) these app roles instead of its
    /// configured ones, as an administrator changing consent would. Like Entra, only tokens
    /// issued afterwards carry them: revoke the old tokens (``revokeTokens()``) to force a new one.
    public func setRoles(_ roles: Set<String>, forClient clientId: String) {
        state.roleGrants.withLock { $0[clientId.lowercased()] = roles }
    }
}

/// The simulator's configuration and mutable state, each part behind its own lock.
final class SimulatorState: Sendable {
    let configuration: SimulatorConfiguration
    let tenantId: String
    let directory: Mutex<Directory>
    let tokens = Mutex(TokenStore())
    let faults = Mutex(FaultBook())
    let quota: Mutex<WriteQuotaWindow?>
    let log = Mutex(RequestLog())
    /// Draws the orders of parallel batch items.
    let batchRandom: Mutex<SplitMix64>
    /// App roles set at run time, by lowercased client id; they win over the configured ones.
    let roleGrants = Mutex<[String: Set<String>]>([:])
    /// The simulator clock's reading at start, and the wall-clock time then: delta tokens count
    /// their age from it, and created users' `createdDateTime` moves with the clock.
    let clockStart: ContinuousClock.Instant
    let dateAtStart: Date
    /// Delta tokens of older generations are expired (``GraphSimulator/expireDeltaTokens()``).
    let deltaTokenGeneration = Mutex<UInt64>(1)
    /// Whether the tenant has Microsoft Entra ID P1 or P2 (for `signInActivity`).
    let entraIDPremium: Mutex<Bool>
    /// The large group a first groups delta round is paging through (taken after `directory`).
    let memberEntries = Mutex<MemberEntriesCache?>(nil)

    init(directory: Directory, configuration: SimulatorConfiguration) {
        self.configuration = configuration
        clockStart = configuration.clock.now
        dateAtStart = Date()
        entraIDPremium = Mutex(configuration.entraIDPremium)
        tenantId = directory.tenantId
        self.directory = Mutex(directory)
        quota = Mutex(configuration.writeQuota.map(WriteQuotaWindow.init))
        batchRandom = Mutex(SplitMix64(seed: configuration.batchSeed))
    }

    /// Milliseconds of the simulator's clock since it started (never negative).
    func elapsedMilliseconds() -> UInt64 {
        let elapsed = configuration.clock.now - clockStart
        let (seconds, attoseconds) = elapsed.components
        return UInt64(max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    }

    /// The wall-clock time as the simulator's clock has moved it since the start.
    func wallClockNow() -> Date {
        dateAtStart.addingTimeInterval(Double(elapsedMilliseconds()) / 1000)
    }

    /// The caller a grant's token stands for, with the roles granted at run time if any.
    func caller(for grant: TokenIssuer.Grant) -> Caller {
        let roles = roleGrants.withLock { $0[grant.applicationId.lowercased()] } ?? grant.roles
        return Caller(applicationId: grant.applicationId, roles: roles)
    }
}

/// The TLS certificate and key, generated or read, and where the certificate was written.
private struct TLSMaterial: Sendable {
    let certificatePEM: String
    let privateKeyPEM: String
    let certificatePath: String?

    init(_ tls: SimulatorTLS) throws {
        switch tls {
        case let .selfSigned(path):
            let generated = try SelfSignedCertificate()
            certificatePEM = generated.certificatePEM
            privateKeyPEM = generated.privateKeyPEM
            if let path {
                do { try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: path)) } catch {
                    throw SimulatorSetupError(
                        "cannot write the TLS certificate to \(path): \(error.localizedDescription); choose a writable path"
                    )
                }
            }
            certificatePath = path
        case let .files(certificate, privateKey):
            do {
                certificatePEM = try String(contentsOfFile: certificate, encoding: .utf8)
                privateKeyPEM = try String(contentsOfFile: privateKey, encoding: .utf8)
            } catch {
                throw SimulatorSetupError(
                    "cannot read the TLS certificate \(certificate) or key \(privateKey): \(error.localizedDescription)"
                )
            }
            certificatePath = certificate
        }
    }

    func serverConfiguration() throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        } catch {
            throw SimulatorSetupError("the TLS certificate or private key is not usable PEM: \(error)")
        }
    }
}
