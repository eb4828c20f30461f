// The reconcile-engine write benchmark: a generated tenant (100,000 users, 5 % drift) served by
// `allot simulate` in its own process with Graph's identity write quota on (3,000 writes per
// 150 s), reconciled twice by the engine. It measures the write requests (`$batch` calls)
// against the fewest possible, the sustained write rate against the quota, the share of writes
// answered 429, and the writes of the second cycle (there must be none). See
// docs/performance.md ("Reconcile engine").
//
//     swift build -c release --product allot
//     swift build --package-path Benchmarks -c release --product AllotEngineBenchmark
//     Benchmarks/.build/release/AllotEngineBenchmark --allot .build/release/allot [--users 100000] [--seed 1] [--drift 5] [--policies DIR]
//
// The simulator is the `allot` executable next to this one (or --allot), so that serving does
// not compete with the engine inside one process; its request log (control API) is the record.

import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

struct Options {
    var users = 100_000
    var seed: UInt64 = 1
    var drift = 5.0
    var quotaWrites = 3_000
    var quotaWindowSeconds = 150
    /// The repository's sample policies: this file is Benchmarks/Sources/<target>/main.swift.
    var policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies").path
    var allot = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "allot"
    ).path

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--users": users = Int(iterator.next() ?? "") ?? users
            case "--seed": seed = UInt64(iterator.next() ?? "") ?? seed
            case "--drift": drift = Double(iterator.next() ?? "") ?? drift
            case "--policies": policies = iterator.next() ?? policies
            case "--allot": allot = iterator.next() ?? allot
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: The simulator

/// `allot simulate` in a child process, and its control API.
final class SimulatorProcess: Sendable {
    let process: Process
    let baseURL: String

    init(_ options: Options) throws {
        guard FileManager.default.isExecutableFile(atPath: options.allot) else {
            throw BenchmarkError(
                "no allot executable at \(options.allot): build it at the repository's root with `swift build -c release --product allot` and pass --allot .build/release/allot"
            )
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: options.allot)
        process.arguments = [
            "simulate", "--users", "\(options.users)", "--seed", "\(options.seed)", "--drift", "\(options.drift)",
            "--write-quota", "\(options.quotaWrites)/\(options.quotaWindowSeconds)s", "--listen", "127.0.0.1:0",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        var text = ""
        var base: String?
        while base == nil {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchmarkError("allot simulate exited before it listened: \(text)") }
            text += String(decoding: chunk, as: UTF8.self)
            base = SimulatorEndpoints.baseURL(fromBanner: text)
        }
        baseURL = base!
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    func requests() async throws -> [LoggedRequest] {
        try JSONDecoder().decode([LoggedRequest].self, from: try await control(.GET, "/requests"))
    }

    func clearRequests() async throws {
        _ = try await control(.DELETE, "/requests")
    }

    private func control(_ method: HTTPMethod, _ path: String) async throws -> Data {
        var request = HTTPClientRequest(url: "\(baseURL)/_simulator\(path)")
        request.method = method
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 30)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw BenchmarkError("\(method.rawValue) /_simulator\(path) answered \(response.status.code)")
        }
        return Data(body.readableBytesView)
    }
}

/// What the simulator saw of the writes since its request log was last cleared.
struct WriteStatistics {
    /// `POST /$batch` requests, and how many were refused as a whole.
    var batches = 0
    var batchesRefused = 0
    /// Items inside the batches, by outcome.
    var items = 0
    var itemsAccepted = 0
    var itemsThrottled = 0
    var itemsFailed = 0
    /// Writes outside `$batch` (there should be none).
    var otherWrites = 0
    /// Batches per number of items.
    var batchSizes: [Int: Int] = [:]

    init(_ log: [LoggedRequest]) {
        for request in log {
            if request.path.contains("$batch") {
                batches += 1
                if request.status >= 400 { batchesRefused += 1 }
                let entries = request.batchItems ?? []
                items += entries.count
                batchSizes[entries.count, default: 0] += 1
                for item in entries {
                    switch item.status {
                    case 200..<300: itemsAccepted += 1
                    case 429: itemsThrottled += 1
                    default: itemsFailed += 1
                    }
                }
            } else if request.path.hasPrefix("/v1.0/"), request.method != "GET" {
                otherWrites += 1
            }
        }
    }

    var writes: Int { items + otherWrites }
}

/// Accepted writes over time: the simulator's request log, read once a second while a cycle runs.
final class WriteSampler: Sendable {
    struct Sample {
        var seconds: Double
        var accepted: Int
    }

    private let state = Mutex<[Sample]>([])
    var samples: [Sample] { state.withLock { $0 } }

    /// Samples until cancelled.
    func run(_ simulator: SimulatorProcess) async {
        let start = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let log = try? await simulator.requests() else { continue }
            let accepted = WriteStatistics(log).itemsAccepted
            let seconds = (ContinuousClock.now - start).timeInterval
            state.withLock { $0.append(Sample(seconds: seconds, accepted: accepted)) }
        }
    }

    /// Accepted writes per second from the first sample with at least `after` writes (the initial
    /// burst) to the last sample that saw a new write.
    func sustainedRate(after: Int) -> (rate: Double, from: Double, to: Double, writes: Int)? {
        let samples = samples
        guard let total = samples.last?.accepted, let last = samples.first(where: { $0.accepted == total }),
            let first = samples.first(where: { $0.accepted >= after }), last.seconds > first.seconds
        else { return nil }
        return (
            Double(last.accepted - first.accepted) / (last.seconds - first.seconds), first.seconds, last.seconds,
            last.accepted - first.accepted
        )
    }

    /// The most writes accepted within any `window` (at the sampling's one-second resolution).
    func busiestWindow(_ window: Double) -> Int {
        let samples = [Sample(seconds: 0, accepted: 0)] + samples
        var best = 0
        var start = 0
        for sample in samples {
            while sample.seconds - samples[start].seconds > window { start += 1 }
            best = max(best, sample.accepted - samples[start].accepted)
        }
        return best
    }
}

// MARK: The engine

/// Counts the engine's log events (and keeps the first warnings and errors to show them).
final class EventCounter: Sendable {
    private let state = Mutex<(counts: [String: Int], problems: [String])>(([:], []))

    var counts: [String: Int] { state.withLock { $0.counts } }
    var problems: [String] { state.withLock { $0.problems } }

    func reset() { state.withLock { $0 = ([:], []) } }

    func logger() -> Logger {
        Logger(label: "allot.benchmark") { _ in
            StructuredLogHandler(format: .json, level: .info, sink: LogSink { line in self.record(line) })
        }
    }

    private func record(_ line: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
        let event = object["event"] as? String ?? "(none)"
        let level = object["level"] as? String ?? ""
        state.withLock { state in
            state.counts[event, default: 0] += 1
            if ["warning", "error", "critical"].contains(level), event != "seats.short", state.problems.count < 5 {
                state.problems.append(line.trimmingCharacters(in: .newlines))
            }
        }
    }
}

/// The seat waves of a plan as the engine sends them when every call succeeds (``SeatSchedule``),
/// and the fewest batches each wave needs: a wave's writes (its calls and their usage-location
/// PATCHes) go in full batches of 20.
struct Waves {
    var writesPerWave: [Int] = []
    var usageLocations = 0

    init(_ plan: Plan) {
        let changes = plan.changes
        var schedule = SeatSchedule(changes: changes, seats: plan.seats)
        while case let wave = schedule.nextWave(), !wave.isEmpty {
            var writes = 0
            for call in wave {
                if changes[call].setUsageLocation != nil { writes += 1 }
                if changes[call].assignLicense != nil { writes += 1 }
                schedule.succeeded(call)
            }
            writesPerWave.append(writes)
        }
        usageLocations = changes.filter { $0.setUsageLocation != nil }.count
    }

    var writes: Int { writesPerWave.reduce(0, +) }
    var fewestBatches: Int { writesPerWave.reduce(0) { $0 + ($1 + 19) / 20 } }
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

func measure(_ options: Options, simulator: SimulatorProcess) async throws {
    let directory = NSTemporaryDirectory() + "allot-engine-benchmark-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try "benchmark-secret".write(toFile: directory + "/client-secret", atomically: true, encoding: .utf8)
    // Graph's real quota and Allot's own pacing (the defaults); the guard is opened wide: this
    // measures writes, and 5 % drift removes more than the default guard allows.
    let yaml = """
        tenant: \(SampleTenant.tenantId)
        graph: { endpoint: \(simulator.baseURL)/v1.0, authority: \(simulator.baseURL) }
        auth: { clientId: 00000000-0000-4000-8000-00000000be9c, clientSecretFile: ./client-secret }
        policies: \(options.policies)
        reconcile:
          managedSkus: [\(SampleTenant.managedSkus.joined(separator: ", "))]
          usageLocation: { default: US }
          guard: { maxRemovals: 1000000, maxRemovalPercent: 100 }
        logging: { format: json }

        """
    try yaml.write(toFile: directory + "/allot.yaml", atomically: true, encoding: .utf8)
    let loaded = try ConfigurationLoader().load(configurationAt: directory + "/allot.yaml")
    let events = EventCounter()
    let logger = events.logger()

    try await GraphClient.withGraphClient(
        configuration: try GraphClient.Configuration(loaded.configuration),
        logger: logger
    ) { graph in
        let engine = ReconcileEngine(
            settings: loaded.configuration.reconcile,
            graph: graph,
            stateStore: StateStore(directory: directory + "/state"),
            logger: logger,
            progress: ProgressReporter(logger: logger, terminal: isatty(2) == 1)
        )
        let cycleOptions = ReconcileEngine.Options(honourBackoff: false)

        try await simulator.clearRequests()
        let sampler = WriteSampler()
        let sampling = Task { await sampler.run(simulator) }
        let firstStart = ContinuousClock.now
        let first = await engine.run(policies: loaded.policies, options: cycleOptions)
        let firstWall = ContinuousClock.now - firstStart
        try await Task.sleep(for: .milliseconds(1_100))  // one more sample after the last write
        sampling.cancel()
        _ = await sampling.value
        let firstWrites = WriteStatistics(try await simulator.requests())
        let firstEvents = events.counts
        let firstProblems = events.problems
        guard let plan = first.plan else {
            throw BenchmarkError("the first cycle failed: \(first.report.error ?? "?")")
        }

        try await simulator.clearRequests()
        events.reset()
        let secondStart = ContinuousClock.now
        let second = await engine.run(policies: loaded.policies, options: cycleOptions)
        let secondWall = ContinuousClock.now - secondStart
        let secondWrites = WriteStatistics(try await simulator.requests())

        let waves = Waves(plan)
        let report = first.report
        let quotaRate = Double(options.quotaWrites) / Double(options.quotaWindowSeconds)
        let throttledShare = Double(firstWrites.itemsThrottled) / Double(max(1, firstWrites.items))
        // One partial batch per wave: its last batch, and the license calls that wait for their PATCH.
        let allowedBatches = waves.fewestBatches + waves.writesPerWave.count + firstWrites.itemsThrottled
        let sustained = sampler.sustainedRate(after: options.quotaWrites / 10)
        let busiest = sampler.busiestWindow(Double(options.quotaWindowSeconds))
        let sizes = firstWrites.batchSizes.sorted { $0.key > $1.key }.map { "\($0.value)×\($0.key)" }.joined(
            separator: " "
        )
        print(
            """
            tenant                      \(report.usersRead) users, \(format(options.drift, 0)) % drift (seed \(options.seed)); write quota \(options.quotaWrites) / \(options.quotaWindowSeconds) s
            first cycle                 \(report.result.rawValue) in \(format(firstWall.timeInterval)) s; \(report.usersDrifted) users drifted, \(plan.summary.usersChanged) changed
              planned                   \(plan.summary.adds) adds, \(plan.summary.removals) removals, \(plan.summary.planChanges) plan changes, \(plan.summary.usageLocationUpdates) usage locations; \(plan.summary.deferredAdds) adds deferred (seats)
              seat waves                \(waves.writesPerWave.count): \(waves.writesPerWave.map(String.init).joined(separator: " + ")) = \(waves.writes) writes (\(waves.usageLocations) of them usage locations)
              write requests ($batch)   \(firstWrites.batches) (\(firstWrites.batchesRefused) refused whole); fewest possible \(waves.fewestBatches) (Σ ⌈wave/20⌉), allowed \(allowedBatches) (+ one partial batch per wave + \(firstWrites.itemsThrottled) throttled retries)
              batch sizes               \(sizes)
              items                     \(firstWrites.items): \(firstWrites.itemsAccepted) accepted, \(firstWrites.itemsThrottled) answered 429 (\(format(throttledShare * 100, 2)) %), \(firstWrites.itemsFailed) failed; \(firstWrites.otherWrites) writes outside $batch
              sustained write rate      \(sustained.map { "\(format($0.rate, 2)) writes/s = \(format($0.rate / quotaRate * 100)) % of the quota (\($0.writes) writes from \(format($0.from)) s to \(format($0.to)) s)" } ?? "n/a (fewer writes than the burst)")
              busiest quota window      \(busiest) writes accepted within \(options.quotaWindowSeconds) s (quota \(options.quotaWrites))
              events                    \(firstEvents.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            second cycle                \(second.report.result.rawValue) in \(format(secondWall.timeInterval)) s; \(secondWrites.batches) write requests, \(secondWrites.writes) writes
            """
        )
        for problem in firstProblems { print("  first cycle problem: \(problem)") }
        let met =
            firstWrites.batches <= allowedBatches && (sustained.map { $0.rate >= 0.9 * quotaRate } ?? true)
            && throttledShare < 0.01
            && secondWrites.writes == 0 && report.failed.total == 0
        print(met ? "all budgets met" : "a budget was missed")
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let simulator = try SimulatorProcess(options)
do {
    try await measure(options, simulator: simulator)
    simulator.stop()
} catch {
    simulator.stop()
    throw error
}
