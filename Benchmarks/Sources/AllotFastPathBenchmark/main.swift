// The fast path benchmark (issue 12; docs/performance.md, "Fast path"): the engine in this
// process against the in-process simulator over loopback.
//
// 1. On `--users` users (1,000,000 by default): a converging cycle, a cycle that seeds the fast
//    path, then a fast pass with nothing changed (its requests), then `--changes` changes (half
//    joiners of PMO, a third department moves, the rest leavers of PMO) and one fast pass: its
//    requests, its CPU time and the process's peak resident memory during it, against the
//    peak of the seeding cycle.
// 2. On `--latency-users` users (40,000): `--joiners` joiners (100) added to Platform Engineering
//    (nested in Engineering, whose policy grants E5) at random times
//    while fast passes run every `--fast-interval` seconds (30), as the daemon runs them: the
//    time from each joiner's membership change to the end of the pass after which Graph holds
//    their license, median and maximum.
//
//     swift build --package-path Benchmarks -c release --product AllotFastPathBenchmark
//     Benchmarks/.build/release/AllotFastPathBenchmark [--users 1000000] [--changes 100] [--latency-users 10000] [--joiners 100] [--fast-interval 30]
//
// CPU and memory are the whole process's, so they include the simulator serving the requests:
// an upper bound for the engine's share.

import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import CDispatch  // where this toolchain declares `timespec` (MemberImportVisibility)
import Foundation
import Glibc
import Logging

struct Options {
    var users = 1_000_000
    var changes = 100
    var latencyUsers = 40_000
    var joiners = 100
    var fastInterval = 30
    /// The repository's sample policies: this file is Benchmarks/Sources/<target>/main.swift.
    var policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies").path

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            let value = iterator.next().flatMap(Int.init)
            switch (argument, value) {
            case ("--users", let value?): users = value
            case ("--changes", let value?): changes = value
            case ("--latency-users", let value?): latencyUsers = value
            case ("--joiners", let value?): joiners = value
            case ("--fast-interval", let value?): fastInterval = value
            default:
                FileHandle.standardError.write(
                    Data(
                        "usage: AllotFastPathBenchmark [--users N] [--changes N] [--latency-users N] [--joiners N] [--fast-interval S]\n"
                            .utf8
                    )
                )
                exit(64)
            }
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let clientId = "00000000-0000-4000-8000-0000000fa575"
let clientSecret = "fast-path-benchmark"

/// CPU seconds (user + system) this process has used.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The process's peak resident memory (`VmHWM`, MB) since start or the last ``resetPeakMemory()``.
func peakMemoryMB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

/// `CLOCK_MONOTONIC` in seconds: the clock `perf record -k CLOCK_MONOTONIC` stamps samples with,
/// so that a profile can be cut to the measured pass.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Resets `VmHWM` to the current resident size (Linux: `5` into `/proc/self/clear_refs`).
func resetPeakMemory() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

/// The simulator (generated tenant, no consistency lag), an engine pointed at it, and `body`.
/// The simulator enforces no write quota here, and the client's pacing is lifted too: at Graph's
/// 19 writes a second, the converging cycle on a million generated users had not ended after
/// 11 minutes (it is set-up, not measured).
func withEngine<T: Sendable>(
    users: Int,
    policies: String,
    fastInterval: Int,
    _ body: @Sendable (GraphSimulator, ReconcileEngine, PolicySet) async throws -> T
) async throws -> T {
    var configuration = SimulatorConfiguration(applications: [
        SimulatedApplication(clientId: clientId, clientSecret: clientSecret)
    ])
    configuration.tenantId = SampleTenant.tenantId
    let simulator = GraphSimulator(
        generator: TenantGenerator(users: users, seed: 1, driftPercent: 0),
        configuration: configuration
    )
    return try await simulator.withRunning { simulator, endpoints in
        let directory = NSTemporaryDirectory() + "allot-fastpath-benchmark-\(getpid())-\(users)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try clientSecret.write(toFile: directory + "/client-secret", atomically: true, encoding: .utf8)
        let yaml = """
            tenant: \(SampleTenant.tenantId)
            graph: { endpoint: \(endpoints.baseURL)/v1.0, authority: \(endpoints.baseURL), writeQuota: { writes: 1000000, window: 150s } }
            auth: { clientId: \(clientId), clientSecretFile: ./client-secret }
            policies: \(policies)
            reconcile:
              fastInterval: \(fastInterval)s
              managedSkus: [\(SampleTenant.managedSkus.joined(separator: ", "))]
              usageLocation: { default: US }
              guard: { maxRemovals: 1000000, maxRemovalPercent: 100 }
            logging: { format: json }

            """
        try yaml.write(toFile: directory + "/allot.yaml", atomically: true, encoding: .utf8)
        let loaded = try ConfigurationLoader().load(configurationAt: directory + "/allot.yaml")
        var logger = Logger(label: "allot.fastpath.benchmark")
        logger.logLevel = .warning
        let client = try GraphClient.Configuration(loaded.configuration)
        return try await GraphClient.withGraphClient(configuration: client, logger: logger) { graph in
            let engine = ReconcileEngine(
                settings: loaded.configuration.reconcile,
                graph: graph,
                stateStore: StateStore(directory: directory + "/state"),
                logger: logger
            )
            return try await body(simulator, engine, loaded.policies)
        }
    }
}

/// Graph requests since the log was cleared, without token requests.
func graphRequests(_ simulator: GraphSimulator) -> [LoggedRequest] {
    simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/") }
}

/// Part 1: request counts, CPU and memory of fast passes on a large tenant.
func measureCost(_ options: Options) async throws {
    try await withEngine(users: options.users, policies: options.policies, fastInterval: options.fastInterval) {
        simulator,
        engine,
        policies in
        let converging = await engine.run(policies: policies)
        guard converging.report.result != .failed else {
            throw BenchmarkError("the first cycle failed: \(converging.report.error ?? "")")
        }
        resetPeakMemory()
        let seedStart = ContinuousClock.now
        let seeded = await engine.runSeedingFastPath(policies: policies)
        let seedWall = ContinuousClock.now - seedStart
        let cyclePeak = peakMemoryMB()
        guard var state = seeded.fastPath else {
            throw BenchmarkError("the cycle did not seed the fast path: \(seeded.outcome.report.error ?? "")")
        }
        print(
            "users \(options.users): full cycle (seeding) \(format(seedWall.timeInterval)) s wall, peak resident \(format(cyclePeak, 0)) MB, \(seeded.outcome.report.applied.total) writes"
        )

        simulator.clearRequestLog()
        let idle = await engine.runFastPass(policies: policies, state: &state)
        print(
            "nothing changed: result \(idle.result.rawValue), \(graphRequests(simulator).count) requests (\(idle.deltaRequests) delta)"
        )

        // The changes, picked from the model (a snapshot of the simulator would cost memory).
        let tenant = state.tenant
        let pmo = try require(tenant.groups(matching: "PMO").first, "PMO")
        let pmoId = tenant.groups[pmo].id
        let joinerCount = options.changes / 2
        let moverCount = options.changes / 3
        let leaverCount = options.changes - joinerCount - moverCount
        var outsiders: [GUID] = []
        var members: [GUID] = []
        for user in 0..<tenant.userCount where outsiders.count < joinerCount + moverCount || members.count < leaverCount
        {
            if tenant.isMember(user: user, ofGroup: pmo) {
                if members.count < leaverCount { members.append(tenant.userID(at: user)) }
            } else if tenant.usageLocation(at: user) != nil, outsiders.count < joinerCount + moverCount {
                outsiders.append(tenant.userID(at: user))
            }
        }
        for id in outsiders.prefix(joinerCount) { try simulator.addMember(id, toGroup: pmoId) }
        for id in outsiders.dropFirst(joinerCount) { try simulator.updateUser(id, ["department": .string("Finance")]) }
        for id in members { try simulator.removeMember(id, fromGroup: pmoId) }

        simulator.clearRequestLog()
        resetPeakMemory()
        let cpuBefore = cpuSeconds()
        let passStart = ContinuousClock.now
        let windowStart = monotonicSeconds()
        let pass = await engine.runFastPass(policies: policies, state: &state)
        let windowEnd = monotonicSeconds()
        let passWall = ContinuousClock.now - passStart
        let cpu = cpuSeconds() - cpuBefore
        let passPeak = peakMemoryMB()
        let requests = graphRequests(simulator)
        let writes =
            requests.filter { $0.method == "POST" && $0.path.hasSuffix("/$batch") }.count - pass.userReadRequests
        print(
            "\(options.changes) changes: result \(pass.result.rawValue), \(pass.usersAffected) users affected, \(requests.count) requests "
                + "(\(pass.deltaRequests) delta, \(pass.userReadRequests) user reads, \(pass.skuRequests) SKU, \(writes) write batches), "
                + "applied \(pass.applied.adds) adds \(pass.applied.removals) removals"
        )
        print(
            "fast pass: \(format(cpu * 1000, 0)) ms CPU (process, simulator included), \(format(passWall.timeInterval * 1000, 0)) ms wall, "
                + "peak resident \(format(passPeak, 0)) MB = \(format(passPeak / cyclePeak * 100, 1)) % of the full cycle's"
        )
        print(
            "the pass ran from \(format(windowStart, 6)) to \(format(windowEnd, 6)) s (CLOCK_MONOTONIC, as perf record -k CLOCK_MONOTONIC stamps samples)"
        )
    }
}

/// Part 2: joiner latency end to end, fast passes every `fastInterval` seconds.
func measureLatency(_ options: Options) async throws {
    try await withEngine(users: options.latencyUsers, policies: options.policies, fastInterval: options.fastInterval) {
        simulator,
        engine,
        policies in
        _ = await engine.run(policies: policies)
        guard var state = await engine.runSeedingFastPath(policies: policies).fastPath else {
            throw BenchmarkError("no fast path")
        }
        // Joiners of Platform Engineering, nested in Engineering, whose policy grants E5 (the SKU
        // with the most spare seats in a generated tenant).
        let snapshot = simulator.currentTenant()
        let engineering = try require(snapshot.groups.first { $0.displayName == "Engineering" }, "Engineering")
        let exempt = try require(snapshot.groups.first { $0.displayName == "License Exempt" }, "License Exempt")
        let platform = try require(
            snapshot.groups.first { $0.displayName == "Platform Engineering" },
            "Platform Engineering"
        )
        let e5 = try require(snapshot.subscribedSkus.first { $0.skuPartNumber == "SPE_E5" }, "SPE_E5")
        guard e5.prepaidUnits.enabled - e5.consumedUnits >= options.joiners else {
            throw BenchmarkError(
                "SPE_E5 has \(e5.prepaidUnits.enabled - e5.consumedUnits) seats left for \(options.joiners) joiners: raise --latency-users"
            )
        }
        let outside = Set(engineering.members + exempt.members)
        let candidates = snapshot.users.filter { user in
            !outside.contains(user.id) && user.usageLocation != nil && user.properties["accountEnabled"] == .bool(true)
        }
        var generator = SystemRandomNumberGenerator()
        let joiners = Array(candidates.shuffled(using: &generator).prefix(options.joiners)).map(\.id)
        let window = Double(options.fastInterval * 5)
        let start = ContinuousClock.now
        // One timeline: joiners made as an admin would, at random times over five intervals, and
        // a fast pass `fastInterval` after the previous one ended, as the daemon runs them. A
        // joiner due during a pass is added once it ends, and timed from then.
        var pending = joiners.map { _ in start + .milliseconds(Int64(Double.random(in: 0..<window) * 1000)) }.sorted()
        var order = joiners.makeIterator()
        var added: [(GUID, ContinuousClock.Instant)] = []
        var licensedAt: [GUID: ContinuousClock.Instant] = [:]
        var passes = 0
        var nextPass = start + .seconds(options.fastInterval)
        while licensedAt.count < joiners.count, passes < 40 {
            if let due = pending.first, due < nextPass {
                try await Task.sleep(until: due, clock: .continuous)
                pending.removeFirst()
                let id = order.next()!
                try simulator.addMember(id, toGroup: platform.id)
                added.append((id, ContinuousClock.now))
                continue
            }
            try await Task.sleep(until: nextPass, clock: .continuous)
            _ = await engine.runFastPass(policies: policies, state: &state)
            passes += 1
            let now = ContinuousClock.now
            let holders = Set(
                simulator.currentTenant().users.filter { user in
                    (user.licenseAssignmentStates ?? []).contains { $0.skuId == e5.skuId && $0.isDirect }
                }.map(\.id)
            )
            for (id, _) in added where licensedAt[id] == nil && holders.contains(id) { licensedAt[id] = now }
            nextPass = ContinuousClock.now + .seconds(options.fastInterval)
        }
        let latencies = added.compactMap { id, at in licensedAt[id].map { ($0 - at).timeInterval } }.sorted()
        guard latencies.count == joiners.count else {
            throw BenchmarkError("only \(latencies.count) of \(joiners.count) joiners licensed")
        }
        let median =
            latencies.count % 2 == 1
            ? latencies[latencies.count / 2] : (latencies[latencies.count / 2 - 1] + latencies[latencies.count / 2]) / 2
        if ProcessInfo.processInfo.environment["FASTPATH_BENCHMARK_VERBOSE"] != nil {
            print("latencies: \(latencies.map { format($0) })")
        }
        print(
            "joiner latency, \(options.latencyUsers) users, fastInterval \(options.fastInterval) s, \(joiners.count) joiners over \(passes) passes: "
                + "median \(format(median)) s, max \(format(latencies.last ?? 0)) s, all licensed"
        )
    }
}

/// `#require` for a benchmark: the value or an error naming what is missing.
func require<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw BenchmarkError("the generated tenant has no \(what)") }
    return value
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    try await measureCost(options)
    try await measureLatency(options)
} catch {
    FileHandle.standardError.write(Data("benchmark failed: \(error)\n".utf8))
    exit(1)
}
