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
            --output json prints the documented plan format (docs/plan-format.md); --output markdown a \
            pull-request comment under GitHub's 65,536-character limit.
            --compare-to DIR (or git:REF) plans the same tenant read with those base policies too and shows \
            the effect of the change: the changes the proposed policies cause, the drift present either way, \
            seats and the guard with both (docs/gitops.md).
            Exit status: 0 nothing pending, 2 changes pending (to send, or deferred, skipped, delayed or held by a guard), 1 error, 64 usage error.
            """
    )

    @OptionGroup var options: ConfigurationOption

    @OptionGroup var tenantSource: TenantSourceOption

    @Option(name: .long, help: "text (for people), json (stable, for pipelines) or markdown (a pull-request comment).")
    var output: PlanOutputFormat = .text

    @Option(
        name: .customLong("compare-to"),
        help: ArgumentHelp(
            "The base policies to compare with: a directory, or git:REF for the policy directory at REF in its git repository.",
            valueName: "dir|git:ref"
        ),
        completion: .directory
    )
    var compareTo: String?

    @Flag(name: .customLong("show-drift"), help: "With --compare-to: list the drift user by user, not only as totals.")
    var showDrift = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also save the plan to this file, for `allot apply FILE` to apply exactly (docs/gitops.md).",
            valueName: "file"
        ),
        completion: .file()
    )
    var out: String?

    func validate() throws {
        if out != nil && compareTo != nil {
            throw ValidationError("--out saves the plan of the configured policies: run it without --compare-to")
        }
    }

    @OptionGroup var time: EvaluationTimeOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        if let compareTo {
            let base = try loadBasePolicies(compareTo, loaded: loaded)
            return try await compare(base: base, loaded: loaded, logger: logger)
        }
        let plan: Plan
        if let snapshot = tenantSource.snapshot {
            let tenant = try tenantModel(snapshot: snapshot)
            plan = try await preparePlan(
                loaded,
                tenant: .snapshot(tenant),
                state: stateStore(loaded),
                evaluatedAt: time.date(for: tenant)
            ).plan()
        } else {
            // A cycle that writes nothing: it prepares its plan through the same entry point.
            let outcome = try await withGraph(loaded, logger: logger) { graph in
                let engine = ReconcileEngine(
                    settings: loaded.configuration.reconcile,
                    graph: graph,
                    stateStore: stateStore(loaded),
                    logger: logger,
                    progress: ProgressReporter(logger: logger, terminal: isTerminal(2))
                )
                return await engine.run(
                    policies: loaded.policies,
                    options: ReconcileEngine.Options(honourBackoff: false, planOnly: true, evaluateAt: time.at?.date)
                )
            }
            guard let made = outcome.plan else {
                printError("error: \(outcome.report.error ?? "the cycle failed")")
                throw ExitCode.failure
            }
            plan = made
        }
        if let out { try save(plan, to: out, loaded: loaded) }
        switch output {
        case .text: try writeResult(PlanRenderer(colors: options.colors(1)).render(plan))
        case .json: try printJSON(plan)
        case .markdown: try writeResult(MarkdownRenderer().render(plan))
        }
        if plan.isPending { throw ExitCode(2) }
    }
}
