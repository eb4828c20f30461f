import AllotConfig
import AllotCore
import AllotDaemon
import ArgumentParser
import Foundation
import Logging

/// `allot run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: reconcile every interval, serve /healthz, /readyz, /status and /metrics, talk to systemd.",
        discussion: """
            Runs until SIGTERM or SIGINT (exit 0 after the batch in flight). SIGHUP reloads the configuration and \
            policies, keeping the last good set when the new one is invalid. See docs/operations.md.
            """)

    @OptionGroup var options: ConfigurationOption

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(loaded.configuration.logging)
        do {
            try await Daemon.run(loaded: loaded, logger: logger, environment: hostEnvironment(loaded))
        } catch {
            logger.critical("Allot stopped: \(error)")
            throw ExitCode.failure
        }
    }
}
