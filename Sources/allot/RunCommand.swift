import AllotConfig
import AllotCore
import AllotDaemon
import AllotEngine
import ArgumentParser
import Foundation
import Logging

/// `allot run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Run the daemon: reconcile every interval, serve /healthz, /readyz, /status and /metrics, talk to systemd.",
        discussion: """
            Runs until SIGTERM or SIGINT (exit 0 after the batch in flight). SIGHUP reloads the configuration and \
            policies, keeping the last good set when the new one is invalid. See docs/operations.md.
            """
    )

    @OptionGroup var options: ConfigurationOption

    func run() async throws {
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader().load(configurationAt: options.path)
        } catch {
            // Under systemd this is a journal line like every other: a JSON event with a priority.
            let problems = error.diagnostics.map(\.description)
            if isTerminal(2) { printError(problems.joined(separator: "\n")) }
            let logger = bootstrapLogging(options.logging(AllotConfiguration.LoggingSettings()))
            Daemon.logFailure(
                logger,
                "Allot did not start: the configuration is invalid",
                error: "the configuration \(options.path) or its policies are invalid (\(problems.count) problems)",
                errors: problems
            )
            throw ExitCode.failure
        }
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging))
        do {
            try await Daemon.run(
                loaded: loaded,
                logger: logger,
                environment: hostEnvironment(loaded),
                buildCommit: BuildInfo.commit
            )
        } catch {
            Daemon.logFailure(logger, "Allot stopped: \(error)", error: "\(error)")
            throw ExitCode.failure
        }
    }
}
