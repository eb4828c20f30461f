import AllotTestSupport
import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import Foundation
import InMemoryLogging
import Logging

/// The engine in this process against the in-process simulator: a workspace (`allot.yaml`,
/// the sample policies, a state directory) pointed at a simulator, and cycles run as
/// `allot apply` runs them, with every log event kept. No child process, no port to wait for.
struct InProcessEngine {
    let simulator: GraphSimulator
    let workspace: Workspace
    let loaded: LoadedConfiguration

    /// Runs `body` with an engine for `tenant`, served by a simulator configured by `configure`.
    static func with<T: Sendable>(
        _ label: String,
        tenant: Snapshot,
        settings: Workspace.Settings = Workspace.Settings(),
        configure: @escaping @Sendable (inout SimulatorConfiguration) -> Void = { _ in },
        _ body: @Sendable (InProcessEngine) async throws -> T
    ) async throws -> T {
        var configuration = SimulatorConfiguration(
            applications: [
                SimulatedApplication(clientId: SimulatorProcess.clientId, clientSecret: SimulatorProcess.clientSecret)
            ])
        configure(&configuration)
        return try await GraphSimulator.withRunning(tenant: tenant, configuration: configuration) {
            simulator,
            endpoints in
            let workspace = try Workspace(label)
            try workspace.configure(simulator: endpoints.baseURL, settings)
            let loaded = try ConfigurationLoader().load(configurationAt: workspace.configPath)
            return try await body(InProcessEngine(simulator: simulator, workspace: workspace, loaded: loaded))
        }
    }

    /// The same engine with the configuration and policies read again (after a test changed them).
    func reloaded() throws -> InProcessEngine {
        InProcessEngine(
            simulator: simulator,
            workspace: workspace,
            loaded: try ConfigurationLoader().load(configurationAt: workspace.configPath)
        )
    }

    /// What one cycle did and logged.
    struct Cycle {
        var outcome: ReconcileEngine.Outcome
        var events: [(name: String, metadata: Logger.Metadata)]

        var report: CycleReport { outcome.report }

        func events(_ name: String) -> [Logger.Metadata] { events.filter { $0.name == name }.map(\.metadata) }
    }

    /// One cycle as `allot apply` runs it (or `allot plan` with `planOnly`).
    /// - Parameters:
    ///   - now: the engine's clock; it is read when the cycle starts and right after the tenant
    ///     is read (before planning), which lets a test change the tenant between read and write.
    ///   - adjustClient: changes the Graph client's configuration (retry timings, for instance).
    func cycle(
        _ options: ReconcileEngine.Options = ReconcileEngine.Options(honourBackoff: false),
        now: @escaping @Sendable () -> Date = Date.init,
        adjustClient: (inout GraphClient.Configuration) -> Void = { _ in }
    ) async throws -> Cycle {
        let (outcome, events) = try await withEngine(now: now, adjustClient: adjustClient) { engine in
            await engine.run(policies: loaded.policies, options: options)
        }
        return Cycle(outcome: outcome, events: events)
    }

    /// A full cycle as the daemon runs it with `reconcile.fastInterval` above zero: delta
    /// tracking started, then the cycle; the fast path's state when both succeeded.
    func seedingCycle() async throws -> (cycle: Cycle, fastPath: FastPathState?) {
        let (run, events) = try await withEngine { engine in await engine.runSeedingFastPath(policies: loaded.policies)
        }
        return (Cycle(outcome: run.outcome, events: events), run.fastPath)
    }

    /// What one fast pass did and logged.
    struct FastPass {
        var report: FastPassReport
        var events: [(name: String, metadata: Logger.Metadata)]

        func events(_ name: String) -> [Logger.Metadata] { events.filter { $0.name == name }.map(\.metadata) }
    }

    /// One fast pass, as the daemon runs it between cycles.
    func fastPass(_ state: inout FastPathState) async throws -> FastPass {
        let current = state
        let ((report, next), events) = try await withEngine { engine in
            var next = current
            let report = await engine.runFastPass(policies: loaded.policies, state: &next)
            return (report, next)
        }
        state = next
        return FastPass(report: report, events: events)
    }

    /// `allot report` as the command makes it, from a live read of this simulator.
    func report(withActivity: Bool, evaluatedAt: Int64) async throws -> LicenseReport {
        let client = try GraphClient.Configuration(loaded.configuration, environment: [:])
        let logger = Logger(label: "allot.report.test")
        return try await GraphClient.withGraphClient(configuration: client, logger: logger) { graph in
            try await ReconcileEngine.report(
                tenant: .live(graph, progress: ProgressReporter(logger: logger, terminal: false)),
                settings: loaded.configuration.reconcile,
                withActivity: withActivity,
                evaluatedAt: { _ in evaluatedAt }
            )
        }
    }

    /// Runs `body` with an engine for this workspace, keeping every log event it made.
    private func withEngine<T: Sendable>(
        now: @escaping @Sendable () -> Date = Date.init,
        adjustClient: (inout GraphClient.Configuration) -> Void = { _ in },
        _ body: (ReconcileEngine) async -> T
    ) async throws -> (T, [(name: String, metadata: Logger.Metadata)]) {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "allot.engine.test") { _ in handler }
        logger.logLevel = .debug
        var client = try GraphClient.Configuration(loaded.configuration, environment: [:])
        client.retry = RetryPolicy(
            maxRetries: 4,
            maxThrottledRetries: 6,
            baseDelay: .milliseconds(20),
            maxDelay: .milliseconds(200)
        )
        adjustClient(&client)
        let result = try await GraphClient.withGraphClient(configuration: client, logger: logger) { graph in
            let engine = ReconcileEngine(
                settings: loaded.configuration.reconcile,
                graph: graph,
                stateStore: StateStore(directory: workspace.stateDirectory),
                logger: logger,
                now: now
            )
            return await body(engine)
        }
        let events = handler.entries.compactMap { entry -> (name: String, metadata: Logger.Metadata)? in
            guard case .string(let name)? = entry.metadata["event"] else { return nil }
            return (name, entry.metadata)
        }
        return (result, events)
    }
}
