import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import ArgumentParser
import Foundation

/// `allot snapshot --out FILE`: saves what planning needs from the live tenant.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Save the tenant state Allot needs (users, referenced groups' members, SKUs) as a snapshot file.",
        discussion: """
            The format is docs/snapshot-format.md. --redact keeps only what the policies need and replaces user \
            principal names with stable pseudonyms, so the snapshot can live in a repository (docs/gitops.md). \
            Exit status: 0 written, 1 error (nothing written).
            """
    )

    @OptionGroup var options: ConfigurationOption

    @Option(
        name: .long,
        help: ArgumentHelp("The file to write (replaced atomically).", valueName: "file"),
        completion: .file(extensions: ["json"])
    )
    var out: String

    @Flag(name: .long, help: "Keep only what the policies need; replace user principal names with stable pseudonyms.")
    var redact = false

    func run() async throws {
        let loaded = try loadConfiguration(options)
        let logger = bootstrapLogging(options.logging(loaded.configuration.logging), toStandardError: true)
        let tenant = try await withGraph(loaded, logger: logger) { graph in
            try await graph.readTenant(
                for: loaded.policies.policies,
                progress: ProgressReporter(logger: logger, terminal: isTerminal(2))
            )
        }
        var snapshot = tenant.snapshot()
        snapshot.tenant = snapshot.tenant ?? loaded.configuration.tenant
        if redact { snapshot = snapshot.redacted() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(snapshot).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            printError("error: cannot write the snapshot to \(out): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        printError(
            "wrote \(out)\(redact ? " (redacted)" : ""): \(tenant.userCount) users, \(tenant.groups.count) groups, \(tenant.subscribedSkus.count) SKUs"
        )
    }
}
