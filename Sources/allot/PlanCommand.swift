import AllotConfig
import AllotCore
import AllotEngine
import ArgumentParser
import Foundation

/// `allot plan`: what a cycle would change, per user, without changing anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the per-user license changes a cycle would make, and change nothing.",
        discussion: """
            Reads the tenant live (or from --snapshot), plans, and prints one block per changed user \
            (+ add, - remove, ~ plan change, @ usage location), then deferrals, the guard, totals and seats. \
            --output json prints the documented plan format (docs/plan-format.md).
            Exit status: 0 nothing pending, 2 changes pending (to send, or deferred, skipped, delayed or held by a guard), 1 error, 64 usage error.
            """)

    @OptionGroup var options: ConfigurationOption

    @Option(name: .long, help: ArgumentHelp("Plan against a snapshot file instead of the live tenant.", valueName: "file"), completion: .file(extensions: ["json"]))
    var snapshot: String?

    @Option(name: .long, help: "text (for people) or json (stable, for pipelines).")
    var output: OutputFormat = .text

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        let plan: Plan
        if let snapshot {
            let tenant = try tenantModel(snapshot: snapshot)
            plan = try planner(loaded, tenant: tenant).plan(options: planningOptionsFromState(loaded, tenant: tenant))
        } else {
            let outcome = try await withGraph(loaded, logger: logger) { graph in
                let engine = ReconcileEngine(
                    configuration: loaded.configuration, graph: graph, stateStore: stateStore(loaded),
                    logger: logger, progress: ProgressReporter(logger: logger, terminal: isTerminal(2)))
                return await engine.run(policies: loaded.policies, options: ReconcileEngine.Options(honourBackoff: false, planOnly: true))
            }
            guard let made = outcome.plan else {
                printError("error: \(outcome.report.error ?? "the cycle failed")")
                throw ExitCode.failure
            }
            plan = made
        }
        switch output {
        case .text: try writeResult(PlanRenderer(colors: options.colors(1)).render(plan))
        case .json: try printJSON(plan)
        }
        if plan.isPending { throw ExitCode(2) }
    }
}
