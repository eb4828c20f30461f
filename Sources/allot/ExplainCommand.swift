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
        abstract: "For one user (UPN or object id): each policy and the clause that decided it, wanted and held licenses, the change.",
        discussion: "Exit status: 0 explained, 1 error or no such user.")

    @OptionGroup var options: ConfigurationOption

    @Argument(help: ArgumentHelp("The user's userPrincipalName or object id.", valueName: "user"))
    var user: String

    @Option(name: .long, help: ArgumentHelp("Explain against a snapshot file instead of the live tenant.", valueName: "file"), completion: .file(extensions: ["json"]))
    var snapshot: String?

    @Option(name: .long, help: "text or json.")
    var output: OutputFormat = .text

    @OptionGroup var time: EvaluationTimeOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        let tenant: TenantModel
        if let snapshot {
            tenant = try tenantModel(snapshot: snapshot)
        } else {
            tenant = try await withGraph(loaded, logger: logger) { graph in
                try await graph.readTenant(for: loaded.policies.policies, progress: ProgressReporter(logger: logger, terminal: isTerminal(2)))
            }
        }
        let planning = planningOptionsFromState(loaded, tenant: tenant)
        let planner = try planner(loaded, tenant: tenant, evaluatedAt: time.instant(for: tenant))
        guard let explanation = planner.explain(user: user, options: planning) else {
            printError("error: no user '\(user)' in the tenant (give a userPrincipalName or an object id)")
            throw ExitCode.failure
        }
        switch output {
        case .text: try writeResult(ExplanationRenderer(colors: options.colors(1)).render(explanation))
        case .json: try printJSON(explanation)
        }
    }
}
