import AllotConfig
import AllotCore
import AllotDaemon
import AllotEngine
import AllotSimulator
import ArgumentParser
import Foundation
import Logging

/// `allot demo`: the simulator and the daemon on loopback, with the sample policies, so that a
/// new user sees Allot converge a tenant without one of their own.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the built-in Graph simulator and the daemon together on loopback, with the sample policies.",
        discussion: """
            Generates a tenant with drift (missing and extra licenses, wrong plans, users without usage location, \
            group-based licenses, a SKU short of seats, E3 -> E5 swaps), serves it on loopback, and runs `allot run` \
            against it with the policies in ./policies. Watch the cycles converge here, and look at /status and \
            /metrics. Runs until Ctrl-C. Nothing leaves this machine.
            """
    )

    @Option(name: .long, help: "Users in the generated tenant.")
    var users: Int = 5000

    @Option(name: .long, help: "The generator's seed.")
    var seed: UInt64 = 42

    @Option(
        name: .long,
        help: ArgumentHelp("Share of users whose licenses differ from the policies.", valueName: "percent")
    )
    var drift: Double = 5

    @Option(name: .long, help: ArgumentHelp("The policy directory.", valueName: "dir"), completion: .directory)
    var policies: String = "policies"

    @Option(name: .long, help: ArgumentHelp("Where the status server listens.", valueName: "host:port"))
    var listen: String = "127.0.0.1:9464"

    @Option(name: .long, help: ArgumentHelp("Time between cycles.", valueName: "duration"))
    var interval: String = "20s"

    @Flag(name: .long, help: "Show every per-user event (drift.detected, license.applied, usage_location.set) too.")
    var verbose = false

    func validate() throws {
        guard users > 0 else { throw ValidationError("--users must be at least 1") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: policies, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError(
                "no policy directory at '\(policies)': run `allot demo` from the repository root (it uses ./policies), or pass --policies DIR"
            )
        }
    }

    func run() async throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("allot-demo-\(getpid())").path
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }

        let simulator = GraphSimulator(
            generator: TenantGenerator(users: users, seed: seed, driftPercent: drift),
            configuration: SimulatorConfiguration()
        )
        let (started, startedContinuation) = AsyncStream.makeStream(of: SimulatorEndpoints.self)
        let serving = Task {
            try await simulator.run { endpoints in startedContinuation.yield(endpoints) }
        }
        defer { serving.cancel() }
        guard let endpoints = await started.first(where: { _ in true }) else { throw ExitCode.failure }

        let configurationPath = workspace + "/allot.yaml"
        try Data("demo-secret\n".utf8).write(to: URL(fileURLWithPath: workspace + "/client-secret"))
        try Data(demoConfiguration(endpoints: endpoints, workspace: workspace).utf8).write(
            to: URL(fileURLWithPath: configurationPath)
        )
        let loaded = try loadConfiguration(at: configurationPath)
        let hidden: Set<String> =
            verbose
            ? [] : ["drift.detected", "license.applied", "usage_location.set", "read.progress", "apply.progress"]
        LoggingSystem.bootstrap { _ in
            EventFilter(
                hidden: hidden,
                base: StructuredLogHandler(format: isTerminal(1) ? .text : .json, level: .info, sink: .standardOutput)
            )
        }
        let logger = Logger(label: "allot")
        FileHandle.standardOutput.write(
            Data(
                """
                Allot demo: a generated tenant of \(users) users (seed \(seed), \(drift)% drift) on the built-in Graph simulator,
                reconciled every \(interval) with the policies in \(policies)/ (managed: SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO,
                PROJECTPROFESSIONAL, VISIOCLIENT; POWER_BI_PRO is a few seats short, so some adds stay deferred).

                  status:    http://\(listen)/status     (JSON: the last cycle, seats, policies)
                  health:    http://\(listen)/healthz  and  /readyz
                  metrics:   http://\(listen)/metrics    (Prometheus)
                  simulator: \(endpoints.graphEndpoint)   (control API: \(endpoints.controlEndpoint))

                Try, in another terminal:  curl -s http://\(listen)/status | head -40
                Stop with Ctrl-C.


                """.utf8
            )
        )
        do {
            try await Daemon.run(loaded: loaded, logger: logger, environment: ["STATE_DIRECTORY": workspace + "/state"])
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    private func demoConfiguration(endpoints: SimulatorEndpoints, workspace: String) -> String {
        """
        # Written by `allot demo`: the sample policies against the built-in simulator.
        tenant: \(SimulatorConfiguration().tenantId)
        graph:
          endpoint: \(endpoints.graphEndpoint)
          authority: \(endpoints.authority)
        auth:
          clientId: 00000000-0000-0000-0000-000000000000
          clientSecretFile: \(workspace)/client-secret
        policies: \(URL(fileURLWithPath: policies).standardizedFileURL.path)
        reconcile:
          interval: \(interval)
          managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO, PROJECTPROFESSIONAL, VISIOCLIENT]
          usageLocation: { default: US }
          guard: { maxRemovals: \(max(50, users / 10)), maxRemovalPercent: 20 }
        status:
          listen: \(listen)
        """
    }
}

/// Drops the per-user events in the demo, so the cycles stand out (`--verbose` keeps them).
private struct EventFilter: LogHandler {
    let hidden: Set<String>
    var base: StructuredLogHandler

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }
    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if case let .string(name)? = event.metadata?["event"], hidden.contains(name) { return }
        base.log(event: event)
    }
}
