import AllotConfig
import AllotCore
import ArgumentParser
import Foundation

/// `allot validate`: loads the configuration and every policy file and prints every
/// problem, one `FILE:LINE:COLUMN: message` per line on stderr.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check allot.yaml and every policy file, printing every problem as FILE:LINE:COLUMN: message.",
        discussion: """
            With --snapshot, also checks the policies against that tenant: groups that do not exist or are \
            ambiguous, SKUs and service plans the tenant does not have, attributes the snapshot lacks.
            Exit status: 0 when everything is valid, 1 when anything is not.
            """
    )

    @OptionGroup var options: ConfigurationOption

    @Option(name: .long, help: ArgumentHelp("Also check the policies against this tenant snapshot.", valueName: "file"))
    var snapshot: String?

    func run() throws {
        let loaded = try loadConfiguration(options)
        if let snapshot { _ = try planner(loaded, tenant: try tenantModel(snapshot: snapshot), evaluatedAt: Int64(Date().timeIntervalSince1970)) }
        let files = loaded.policies.files.count
        let policies = loaded.policies.policies.count
        print("\(files) \(files == 1 ? "file" : "files"), \(policies) \(policies == 1 ? "policy" : "policies"): valid"
            + (snapshot.map { " (and they fit the tenant in \($0))" } ?? ""))
    }
}

/// `--config PATH`, shared by every command that reads the configuration.
struct ConfigurationOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file.", discussion: "Default: ./allot.yaml when present, else /etc/allot/allot.yaml.", valueName: "path"))
    var config: String?

    /// The file to read: `--config`, else the default.
    var path: String {
        config ?? ConfigurationLoader.defaultConfigurationPath(currentDirectory: FileManager.default.currentDirectoryPath)
    }
}
