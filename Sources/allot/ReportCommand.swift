import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import ArgumentParser
import Foundation

/// `allot report`: per subscribed SKU, the seats bought, assigned and idle, on disabled accounts
/// and on users who stopped signing in, with their monthly cost; it changes nothing.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "List per SKU the seats prepaid, assigned, unassigned, on disabled accounts and on inactive users, with their monthly cost.",
        discussion: """
            Every subscribed SKU, managed or not; nothing is changed. Inactive: the last successful sign-in \
            (signInActivity.lastSuccessfulSignInDateTime) is older than 30, 60 or 90 days, or the user never signed in. \
            Reading sign-in activity needs AuditLog.Read.All and Entra ID P1; --no-activity reads without it \
            (the inactive columns are then shown as unknown). Cost: prices: in allot.yaml (docs/report.md).
            Exit status: 0 reported, 1 error.
            """
    )

    @OptionGroup var options: ConfigurationOption

    @OptionGroup var tenantSource: TenantSourceOption

    @Option(name: .long, help: "text (for people), json (stable, for pipelines) or markdown.")
    var output: PlanOutputFormat = .text

    @Flag(
        name: .customLong("no-activity"),
        help: "Do not read sign-in activity (no AuditLog.Read.All or Entra ID P1): no inactive columns."
    )
    var noActivity = false

    @OptionGroup var time: EvaluationTimeOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        let settings = loaded.configuration.reconcile
        let report: LicenseReport
        if let snapshot = tenantSource.snapshot {
            let tenant = try tenantModel(snapshot: snapshot)
            report = try await ReconcileEngine.report(
                tenant: .snapshot(tenant),
                settings: settings,
                withActivity: !noActivity,
                evaluatedAt: time.instant(for:)
            )
        } else {
            do {
                report = try await withGraph(loaded, logger: logger) { graph in
                    try await ReconcileEngine.report(
                        tenant: .live(graph, progress: ProgressReporter(logger: logger, terminal: isTerminal(2))),
                        settings: settings,
                        withActivity: !noActivity,
                        evaluatedAt: time.instant(for:)
                    )
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                // A read that failed or was refused (sign-in activity): say why, report nothing.
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
        switch output {
        case .text: try writeResult(ReportRenderer().text(report))
        case .json: try printJSON(report)
        case .markdown: try writeResult(ReportRenderer().markdown(report))
        }
    }
}
