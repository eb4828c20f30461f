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
        discussion: "Exit status: 0 when everything is valid, 1 when anything is not."
    )

    @OptionGroup var options: ConfigurationOption

    func run() throws {
        do {
            let loaded = try ConfigurationLoader().load(configurationAt: options.path)
            let files = loaded.policies.files.count
            let policies = loaded.policies.policies.count
            print("\(files) \(files == 1 ? "file" : "files"), \(policies) \(policies == 1 ? "policy" : "policies"): valid")
        } catch {
            let lines = error.diagnostics.map(\.description).joined(separator: "\n") + "\n"
            FileHandle.standardError.write(Data(lines.utf8))
            throw ExitCode.failure
        }
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
