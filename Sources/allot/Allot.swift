import AllotCore
import ArgumentParser

/// The `allot` command: license assignment as code for Microsoft 365.
@main
struct Allot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allot",
        abstract: "License assignment as code for Microsoft 365.",
        version: AllotVersion.current,
        subcommands: [ValidateCommand.self, PlanCommand.self, ApplyCommand.self, ExplainCommand.self, SnapshotCommand.self, SimulateCommand.self]
    )
}
