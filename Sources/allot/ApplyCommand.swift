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
            With a saved plan (`allot plan --out FILE`), applies exactly that plan: the tenant is read again and \
            a user's saved change is sent only if the user's licenses are still as the plan saw them and the \
            current policies plan the same change; other users are reported (`plan.stale`). A plan is refused \
            whole (exit 1, nothing written) when the policies or the configuration differ from the plan's, \
            when it was edited, or when it is older than --max-age.
            Exit status: 0 converged, 1 error (nothing written), 3 applied but not converged \
            (per-user failures, deferred adds, skipped users, delayed removals, stale saved changes, or the guard tripped).
            """
    )

    @OptionGroup var options: ConfigurationOption

    @Flag(name: .long, help: "Let this cycle remove licenses even when the removal guard trips.")
    var allowMassRemoval = false

    @Argument(
        help: ArgumentHelp("A plan saved by `allot plan --out FILE`: apply exactly it.", valueName: "plan-file"),
        completion: .file()
    )
    var planFile: String?

    @Option(
        name: .customLong("max-age"),
        help: ArgumentHelp("With a saved plan: the oldest plan to apply (30m, 4h, 1d).", valueName: "duration")
    )
    var maxAge: String = "24h"

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let saved = try planFile.map { try readSavedPlan($0, loaded: loaded) }
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging))
        let store = stateStore(loaded)
        let outcome = try await withGraph(loaded, logger: logger) { graph in
            let engine = ReconcileEngine(
                settings: loaded.configuration.reconcile,
                graph: graph,
                stateStore: store,
                logger: logger,
                progress: ProgressReporter(logger: logger, terminal: isTerminal(2))
            )
            return await engine.run(
                policies: loaded.policies,
                options: ReconcileEngine.Options(
                    allowMassRemoval: allowMassRemoval,
                    honourBackoff: false,
                    savedPlan: saved
                )
            )
        }
        handStateToDirectoryOwner(store)
        switch outcome.report.result {
        case .converged: return
        case .failed: throw ExitCode.failure
        case .notConverged, .drifted: throw ExitCode(3)
        }
    }

    /// Reads a saved plan and checks it as a whole, or says why it is refused and exits 1.
    private func readSavedPlan(_ path: String, loaded: LoadedConfiguration) throws -> SavedPlan {
        guard let maxAgeDuration = DurationText.parse(maxAge) else {
            throw ValidationError("--max-age \(maxAge) is not a duration: write it as 30m, 4h, 1d or 1h30m")
        }
        let saved: SavedPlan
        do {
            saved = try JSONDecoder().decode(SavedPlan.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            printError("error: \(path) is not a saved plan (write one with `allot plan --out FILE`): \(error)")
            throw ExitCode.failure
        } catch {
            printError("error: cannot read the saved plan \(path): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        let configurationRevision: String
        do {
            configurationRevision = try Revision.sha256(fileAt: loaded.configurationPath)
        } catch {
            printError("error: cannot read \(loaded.configurationPath): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        if let refusal = saved.refusal(
            digest: try savedPlanDigest(saved),
            policyRevision: loaded.policies.revision,
            configurationRevision: configurationRevision,
            now: Int64(Date().timeIntervalSince1970),
            maxAge: maxAgeDuration.components.seconds
        ) {
            printError("error: refusing the saved plan \(path): \(refusal). Nothing was written.")
            throw ExitCode.failure
        }
        return saved
    }
}
