import AllotConfig
import AllotCore
import AllotEngine
import ArgumentParser
import Foundation

/// `allot apply`: one reconcile cycle: read, plan, apply, report.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run one reconcile cycle: read the tenant, plan, apply the changes, report.",
        discussion: """
            Logs one structured event per line (docs/log-events.md). Users whose earlier calls failed are \
            retried (the daemon waits for their backoff instead). With `reconcile.mode: report` nothing is written.
            Exit status: 0 converged, 1 error (nothing written), 3 applied but not converged \
            (per-user failures, deferred adds, skipped users, delayed removals, or the guard tripped).
            """)

    @OptionGroup var options: ConfigurationOption

    @Flag(name: .long, help: "Let this cycle remove licenses even when the removal guard trips.")
    var allowMassRemoval = false

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging))
        let store = stateStore(loaded)
        let outcome = try await withGraph(loaded, logger: logger) { graph in
            let engine = ReconcileEngine(
                configuration: loaded.configuration, graph: graph, stateStore: store,
                logger: logger, progress: ProgressReporter(logger: logger, terminal: isTerminal(2)))
            return await engine.run(policies: loaded.policies, options: ReconcileEngine.Options(allowMassRemoval: allowMassRemoval, honourBackoff: false))
        }
        handStateToDirectoryOwner(store)
        switch outcome.report.result {
        case .converged: return
        case .failed: throw ExitCode.failure
        case .notConverged, .drifted: throw ExitCode(3)
        }
    }
}
