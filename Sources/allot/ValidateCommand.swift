import AllotConfig
import AllotCore
import AllotEngine
import ArgumentParser
import Foundation

/// `allot validate`: loads the configuration and every policy file and prints every
/// problem, one `FILE:LINE:COLUMN: message` per line on stderr.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check allot.yaml and every policy file, printing every problem as FILE:LINE:COLUMN: message.",
        discussion: """
            With --snapshot, also checks the policies against that tenant: groups that do not exist or are \
            ambiguous, SKUs and service plans the tenant does not have, attributes the snapshot lacks.
            Exit status: 0 when everything is valid, 1 when anything is not, 64 usage error.
            """
    )

    @OptionGroup var options: ConfigurationOption

    @Option(
        name: .long,
        help: ArgumentHelp("Also check the policies against this tenant snapshot.", valueName: "file"),
        completion: .file(extensions: ["json"])
    )
    var snapshot: String?

    func run() async throws {
        let loaded = try loadConfiguration(options)
        // Through the planning entry point, without the state file: whether the policies fit.
        if let snapshot {
            _ = try await preparePlan(loaded, tenant: .snapshot(tenantModel(snapshot: snapshot)), state: nil)
        }
        let files = loaded.policies.files.count
        let policies = loaded.policies.policies.count
        try writeResult(
            "\(files) \(files == 1 ? "file" : "files"), \(policies) \(policies == 1 ? "policy" : "policies"): valid"
                + (snapshot.map { " (and they fit the tenant in \($0))" } ?? "") + "\n"
        )
    }
}

/// `--config PATH` and the output options, shared by every command that reads the configuration.
struct ConfigurationOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file.",
            discussion: "Default: ./allot.yaml when present, else /etc/allot/allot.yaml.",
            valueName: "path"
        ),
        completion: .file(extensions: ["yaml", "yml"])
    )
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The least severe log level written, instead of logging.level.", valueName: "level")
    )
    var logLevel: AllotConfiguration.LoggingSettings.Level?

    @Option(name: .long, help: ArgumentHelp("json, logfmt or text, instead of logging.format.", valueName: "format"))
    var logFormat: AllotConfiguration.LoggingSettings.Format?

    @Flag(
        name: .long,
        help: "No ANSI colours (also off when NO_COLOR is set, TERM=dumb, or the output is not a terminal)."
    )
    var noColor = false

    /// The configuration's logging settings with `--log-level` and `--log-format` applied.
    func logging(_ settings: AllotConfiguration.LoggingSettings) -> AllotConfiguration.LoggingSettings {
        AllotConfiguration.LoggingSettings(format: logFormat ?? settings.format, level: logLevel ?? settings.level)
    }

    /// Whether to colour what goes to `descriptor`: a terminal, no `--no-color`, and neither
    /// `NO_COLOR` (non-empty, no-color.org) nor `TERM=dumb` in the environment.
    func colors(_ descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        !noColor && isTerminal(descriptor) && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    /// The file to read: `--config`, else the default.
    var path: String {
        config
            ?? ConfigurationLoader.defaultConfigurationPath(currentDirectory: FileManager.default.currentDirectoryPath)
    }
}

extension AllotConfiguration.LoggingSettings.Level: ExpressibleByArgument {}
extension AllotConfiguration.LoggingSettings.Format: ExpressibleByArgument {}
