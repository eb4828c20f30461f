// The daemon soak: `allot run` for many cycles against `allot simulate`, with random drift
// (as an admin makes it, through the simulator's Graph API) and random faults (through its
// control API) between cycles, sampling the daemon's resident memory and open file
// descriptors every cycle and the latency of `/healthz` all the time. See docs/performance.md
// ("Daemon soak").
//
//     swift build -c release --product allot && swift build --package-path Benchmarks -c release --product AllotSoak
//     Benchmarks/.build/release/AllotSoak --allot .build/release/allot          # --cycles 200 --users 20000 --interval 2s are the defaults
//
// With `--fast-interval` the daemon runs fast passes between cycles, and the soak also makes
// joiners and leavers through Graph's membership writes and checks that every joiner is
// licensed and nobody loses a license wrongly (MembershipChanges).

import ArgumentParser
import Foundation

@main
struct AllotSoak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "AllotSoak",
        abstract: "Soak-test `allot run`: cycles with drift and faults; memory, descriptors and /healthz latency.",
        discussion: "Exits 1 when a budget is missed (docs/performance.md, \"Daemon soak\")."
    )

    @Option(help: "Reconcile cycles to run.")
    var cycles = 200

    @Option(help: "Cycles before the memory and descriptor baseline is taken.")
    var warmup = 20

    @Option(help: "Users in the generated tenant.")
    var users = 20_000

    @Option(help: "The tenant generator's seed; it also seeds the drift and faults.")
    var seed: UInt64 = 7

    @Option(help: "The daemon's reconcile.interval.")
    var interval = "2s"

    @Option(
        help: ArgumentHelp(
            "The daemon's reconcile.fastInterval (shorter than --interval for fast passes to run); with it, joiners and leavers are made between cycles.",
            valueName: "duration"
        )
    )
    var fastInterval: String?

    @Option(help: "Joiners added to a referenced group between two cycles (with --fast-interval).")
    var joiners = 5

    @Option(help: "Leavers removed from a referenced group between two cycles (with --fast-interval).")
    var leavers = 5

    @Option(help: "At most this many users drifted by hand between two cycles.")
    var maxDriftUsers = 25

    @Option(help: "The chance (0 to 1) that a fault is armed before a cycle.")
    var faultChance = 0.5

    @Option(help: "Milliseconds between two /healthz probes.")
    var probeIntervalMilliseconds = 50

    @Option(help: ArgumentHelp("The allot executable (default: next to this one).", valueName: "path"))
    var allot: String?

    @Option(help: ArgumentHelp("The sample policies to run (default: ./policies).", valueName: "directory"))
    var policies = "policies"

    @Option(help: ArgumentHelp("Write one row per cycle here (CSV).", valueName: "path"))
    var csv: String?

    func run() async throws {
        let budgets = SoakBudgets()
        let executable =
            allot
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("allot").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError(
                "no allot executable at \(executable): build it at the repository's root (swift build -c release --product allot) and pass --allot .build/release/allot"
            )
        }
        guard warmup + 10 <= cycles else { throw ValidationError("--cycles must be at least --warmup + 10") }
        let settings = SoakSettings(
            cycles: cycles,
            warmup: warmup,
            users: users,
            seed: seed,
            interval: interval,
            fastInterval: fastInterval,
            joiners: joiners,
            leavers: leavers,
            maxDriftUsers: maxDriftUsers,
            faultChance: faultChance,
            probeInterval: .milliseconds(probeIntervalMilliseconds),
            allot: executable,
            policies: URL(fileURLWithPath: policies).standardizedFileURL.path
        )
        let result = try await SoakRun(settings).run()
        print(result.report(settings: settings, budgets: budgets))
        if let csv { try result.csv().write(toFile: csv, atomically: true, encoding: .utf8) }
        if !result.meets(budgets, warmup: warmup) { throw ExitCode.failure }
    }
}

/// What the soak was asked to do.
struct SoakSettings: Sendable {
    var cycles: Int
    var warmup: Int
    var users: Int
    var seed: UInt64
    var interval: String
    /// `nil`: the daemon's default, and no joiners or leavers.
    var fastInterval: String?
    var joiners: Int
    var leavers: Int
    var maxDriftUsers: Int
    var faultChance: Double
    var probeInterval: Duration
    var allot: String
    var policies: String
}

/// The budgets of issue 5.
struct SoakBudgets: Sendable {
    /// Growth of resident memory and of open descriptors after warm-up.
    var maxGrowth = 0.05
    /// The 99th percentile of `/healthz` latency, overall and in every window of cycles.
    var healthP99 = Duration.milliseconds(50)
    /// Cycles per window for the `/healthz` percentile.
    var window = 20
}
