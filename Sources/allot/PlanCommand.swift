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
            Exit status: 0 no changes, 2 changes pending (or removals held because a group shrank), 1 error.
            """)

    @OptionGroup var options: ConfigurationOption

    @Option(name: .long, help: ArgumentHelp("Plan against a snapshot file instead of the live tenant.", valueName: "file"))
    var snapshot: String?

    @Option(name: .long, help: "text (for people) or json (stable, for pipelines).")
    var output: OutputFormat = .text

    @OptionGroup var time: EvaluationTimeOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(loaded.configuration.logging, toStandardError: true)
        let plan: Plan
        if let snapshot {
            let tenant = try tenantModel(snapshot: snapshot)
            plan = try planner(loaded, tenant: tenant, evaluatedAt: time.instant(for: tenant))
                .plan(options: planningOptionsFromState(loaded, tenant: tenant))
        } else {
            let outcome = try await withGraph(loaded, logger: logger) { graph in
                let engine = ReconcileEngine(
                    configuration: loaded.configuration, graph: graph, stateStore: stateStore(loaded),
                    logger: logger, progress: ProgressReporter(logger: logger, terminal: isTerminal(2)))
                return await engine.run(policies: loaded.policies, options: ReconcileEngine.Options(honourBackoff: false, planOnly: true, evaluateAt: time.at?.date))
            }
            guard let made = outcome.plan else {
                printError("error: \(outcome.report.error ?? "the cycle failed")")
                throw ExitCode.failure
            }
            plan = made
        }
        switch output {
        case .text: print(PlanRenderer(colors: isTerminal(1)).render(plan), terminator: "")
        case .json: try printJSON(plan)
        }
        // Removals held by the group shrink hold are pending too, even with nothing to send.
        if plan.hasChanges || plan.summary.heldRemovals > 0 { throw ExitCode(2) }
    }
}
