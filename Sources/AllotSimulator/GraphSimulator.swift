import AllotCore
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
            let directory = try Directory(snapshot: tenant, tenantId: configuration.tenantId, tenantDomain: configuration.tenantDomain)
            self.init(directory: directory, configuration: configuration)
        } catch {
            self.init(
                directory: Directory(tenantId: configuration.tenantId, tenantDomain: configuration.tenantDomain),
                configuration: configuration, setupError: error)
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
        tenant: Snapshot, configuration: SimulatorConfiguration,
        _ body: @Sendable (GraphSimulator, SimulatorEndpoints) async throws -> T
    ) async throws -> T {
        let simulator = GraphSimulator(tenant: tenant, configuration: configuration)
        return try await simulator.withRunning(body)
    }

    /// Starts serving this simulator, runs `body`, then shuts the server down gracefully
    /// (requests in flight finish first).
    public func withRunning<T: Sendable>(_ body: @Sendable (GraphSimulator, SimulatorEndpoints) async throws -> T) async throws -> T {
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
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [application], logger: Self.logger))
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

    private func makeApplication(onStarted: @escaping @Sendable (SimulatorEndpoints) async -> Void) throws -> some ApplicationProtocol {
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
                        scheme: scheme, host: host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host, port: port,
                        certificatePath: tlsMaterial?.certificatePath, certificatePEM: tlsMaterial?.certificatePEM))
            },
            logger: Self.logger)
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
    /// group, later calls naming them answer 404). Returns whether the user existed.
    @discardableResult
    public func deleteUser(_ id: GUID) -> Bool {
        let now = configuration.clock.now
        return state.directory.withLock { directory in
            guard let user = directory.users.index(ofId: id) else { return false }
            directory.deleteUser(user, at: now)
            return true
        }
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

    init(directory: Directory, configuration: SimulatorConfiguration) {
        self.configuration = configuration
        tenantId = directory.tenantId
        self.directory = Mutex(directory)
        quota = Mutex(configuration.writeQuota.map(WriteQuotaWindow.init))
        batchRandom = Mutex(SplitMix64(seed: configuration.batchSeed))
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
                    throw SimulatorSetupError("cannot write the TLS certificate to \(path): \(error.localizedDescription); choose a writable path")
                }
            }
            certificatePath = path
        case let .files(certificate, privateKey):
            do {
                certificatePEM = try String(contentsOfFile: certificate, encoding: .utf8)
                privateKeyPEM = try String(contentsOfFile: privateKey, encoding: .utf8)
            } catch {
                throw SimulatorSetupError("cannot read the TLS certificate \(certificate) or key \(privateKey): \(error.localizedDescription)")
            }
            certificatePath = certificate
        }
    }

    func serverConfiguration() throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        } catch {
            throw SimulatorSetupError("the TLS certificate or private key is not usable PEM: \(error)")
        }
    }
}
