import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import ArgumentParser
import Foundation

/// `allot explain USER`: why Allot wants what it wants for one user.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract:
            "For one user (UPN or object id): each policy and the clause that decided it, wanted and held licenses, the change.",
        discussion: "Exit status: 0 explained, 1 error or no such user."
    )

    @OptionGroup var options: ConfigurationOption

    @Argument(help: ArgumentHelp("The user's userPrincipalName or object id.", valueName: "user"))
    var user: String

    @OptionGroup var tenantSource: TenantSourceOption

    @Option(name: .long, help: "text or json.")
    var output: OutputFormat = .text

    @OptionGroup var time: EvaluationTimeOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        let prepared: PreparedPlan
        if let snapshot = tenantSource.snapshot {
            let tenant = try tenantModel(snapshot: snapshot)
            prepared = try await preparePlan(
                loaded,
                tenant: .snapshot(tenant),
                state: stateStore(loaded),
                evaluatedAt: time.date(for: tenant)
            )
        } else {
            prepared = try await withGraph(loaded, logger: logger) { graph in
                try await preparePlan(
                    loaded,
                    tenant: .live(graph, progress: ProgressReporter(logger: logger, terminal: isTerminal(2))),
                    state: stateStore(loaded),
                    evaluatedAt: time.at?.date
                )
            }
        }
        guard let explanation = prepared.explain(user: user) else {
            printError("error: no user '\(user)' in the tenant (give a userPrincipalName or an object id)")
            throw ExitCode.failure
        }
        switch output {
        case .text: try writeResult(ExplanationRenderer(colors: options.colors(1)).render(explanation))
        case .json: try printJSON(explanation)
        }
    }
}
