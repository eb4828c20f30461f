import AllotCore
import AllotSimulator
import Foundation
import InMemoryLogging
import Logging
import Synchronization

@testable import AllotGraph

/// Runs the in-process simulator on loopback and builds clients pointed at it.
enum Harness {
    static let clientId = "6d0f3a2c-1b4e-4c8a-9f7d-2e5b8c1a0f11"
    static let secret = "s3cr3t~Value.With-Special_Chars+/="

    /// A generated tenant (deterministic), big enough for several user pages.
    static let tenant: Snapshot = TenantGenerator(users: 2_100, seed: 42).generate()

    /// Starts a simulator for `tenant`, runs `body`, stops it.
    @discardableResult
    static func withSimulator<T: Sendable>(
        tenant: Snapshot = Harness.tenant,
        configure: (inout SimulatorConfiguration) -> Void = { _ in },
        _ body: @Sendable (GraphSimulator, SimulatorEndpoints) async throws -> T
    ) async throws -> T {
        var configuration = SimulatorConfiguration(
            applications: [SimulatedApplication(clientId: clientId, clientSecret: secret)])
        configure(&configuration)
        return try await GraphSimulator.withRunning(tenant: tenant, configuration: configuration, body)
    }

    /// A client configuration for the simulator, with fast retries so that fault tests stay quick.
    static func configuration(
        _ endpoints: SimulatorEndpoints,
        credential: AllotConfiguration.Credential,
        clientId: String = Harness.clientId
    ) -> GraphClient.Configuration {
        GraphClient.Configuration(
            tenant: SampleTenant.tenantDomain,
            clientId: clientId,
            credential: credential,
            graphEndpoint: endpoints.graphEndpoint,
            authority: endpoints.authority,
            managedIdentityEndpoint: endpoints.imdsEndpoint,
            retry: RetryPolicy(
                maxRetries: 4,
                maxThrottledRetries: 6,
                baseDelay: .milliseconds(20),
                maxDelay: .milliseconds(200)
            )
        )
    }

    /// A logger that keeps every line (trace and up), to search for secrets.
    static func capturingLogger() -> (Logger, InMemoryLogHandler) {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        let captured = handler
        var logger = Logger(label: "allot.graph.test") { _ in captured }
        logger.logLevel = .trace
        return (logger, handler)
    }

    /// Every captured log line, message and metadata, as text.
    static func text(of handler: InMemoryLogHandler) -> String {
        handler.entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
    }

    /// Runs `body` with a client and a secret file holding ``secret``.
    static func withSecretClient<T: Sendable>(
        _ endpoints: SimulatorEndpoints,
        logger: Logger = Logger(label: "allot.graph.test"),
        adjust: (inout GraphClient.Configuration) -> Void = { _ in },
        _ body: (GraphClient) async throws -> T
    ) async throws -> T {
        let directory = try TestDirectory()
        let secretFile = try directory.write("client-secret", secret + "\n")
        var configuration = configuration(endpoints, credential: .clientSecretFile(secretFile))
        adjust(&configuration)
        return try await GraphClient.withGraphClient(configuration: configuration, logger: logger, body)
    }

    /// The users of the tenant the simulator holds now, by id.
    static func users(of simulator: GraphSimulator) -> [GUID: DirectoryUser] {
        Dictionary(uniqueKeysWithValues: simulator.currentTenant().users.map { ($0.id, $0) })
    }
}

/// Collects values from `@Sendable` callbacks.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}
