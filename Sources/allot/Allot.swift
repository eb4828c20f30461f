import AllotCore
import ArgumentParser
import Foundation

/// The process entry point.
@main
enum Main {
    static func main() async {
        // A SIGHUP arriving before the daemon traps it would kill the process (exit 129):
        // ignore it first thing; `allot run` then receives it through its signal sequence.
        signal(SIGHUP, SIG_IGN)
        // A closed pipe (`allot plan | head`) is then the write error EPIPE, reported and exit 1.
        signal(SIGPIPE, SIG_IGN)
        await Allot.main()
    }
}

/// The `allot` command: license assignment as code for Microsoft 365.
struct Allot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allot",
        abstract: "License assignment as code for Microsoft 365.",
        version: BuildInfo.versionLine,
        subcommands: [
            ValidateCommand.self, PlanCommand.self, ApplyCommand.self, ExplainCommand.self, ReportCommand.self,
            SnapshotCommand.self,
            RunCommand.self, DemoCommand.self, SimulateCommand.self,
        ]
    )
}
