// The reconcile-engine write benchmark: a generated tenant (100,000 users, 5 % drift) on the
// built-in simulator with Graph's identity write quota on (3,000 writes per 150 s), reconciled
// twice by the engine. It measures the write requests (`$batch` calls) against the least
// possible, the sustained write rate against the quota, the share of writes answered 429,
// and the writes of the second cycle (there must be none). See docs/performance.md
// ("Reconcile engine").
//
//     swift build -c release --product AllotEngineBenchmark
//     .build/release/AllotEngineBenchmark [--users 100000] [--seed 1] [--drift 5] [--policies DIR]
//
// The simulator runs in a child process (this executable with `serve`), so that serving does
// not compete with the engine inside one process.

import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import Foundation
import Logging
import Synchronization

struct Options {
    var users = 100_000
    var seed: UInt64 = 1
    var drift = 5.0
    var quotaWrites = 3_000
    var quotaWindowSeconds = 150
    var policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies").path
    var serve = false

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "serve": serve = true
            case "--users": users = Int(iterator.next() ?? "") ?? users
            case "--seed": seed = UInt64(iterator.next() ?? "") ?? seed
            case "--drift": drift = Double(iterator.next() ?? "") ?? drift
            case "--quota-writes": quotaWrites = Int(iterator.next() ?? "") ?? quotaWrites
            case "--quota-window": quotaWindowSeconds = Int(iterator.next() ?? "") ?? quotaWindowSeconds
            case "--policies": policies = iterator.next() ?? policies
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
    }

    var childArguments: [String] {
        ["serve", "--users", "\(users)", "--seed", "\(seed)", "--drift", "\(drift)", "--quota-writes", "\(quotaWrites)",
            "--quota-window", "\(quotaWindowSeconds)"]
    }
}

// MARK: The simulator side

/// What the simulator saw of the writes since the log was last cleared.
struct WriteStatistics: Codable {
    /// `POST /$batch` requests, and how they were answered at the top level.
    var batches = 0
    var batchesRefused = 0
    /// Items inside the batches, by outcome.
    var items = 0
    var itemsAccepted = 0
    var itemsThrottled = 0
    var itemsFailed = 0
    /// Writes outside `$batch` (there should be none).
    var otherWrites = 0
    /// Items per batch, largest first: how full the batches were.
    var batchSizes: [Int: Int] = [:]
    /// (seconds since the log was cleared, writes accepted so far), sampled while writes arrive.
    var acceptedOverTime: [Sample] = []

    struct Sample: Codable {
        var seconds: Double
        var accepted: Int
    }

    init() {}

    init(_ log: [LoggedRequest], samples: [Sample]) {
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
        acceptedOverTime = samples
    }
}

/// `serve`: runs the simulator with the write quota on; prints `READY <graph> <authority>`;
/// answers `stats` (a `WriteStatistics` line) and `clear` (`OK`) on standard input.
func serve(_ options: Options) async throws {
    var configuration = SimulatorConfiguration()
    configuration.writeQuota = SimulatedWriteQuota(writes: options.quotaWrites, window: .seconds(options.quotaWindowSeconds))
    let simulator = GraphSimulator(
        generator: TenantGenerator(users: options.users, seed: options.seed, driftPercent: options.drift), configuration: configuration)
    let samples = SampleLog()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await simulator.run { endpoints in
                writeLine("READY \(endpoints.graphEndpoint) \(endpoints.authority)")
            }
        }
        group.addTask {
            // Samples the accepted writes four times a second, for the write rate.
            var last = 0
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(250))
                let accepted = simulator.requestLog().reduce(0) { total, request in
                    total + (request.batchItems ?? []).filter { (200..<300).contains($0.status) }.count
                }
                guard accepted != last else { continue }
                last = accepted
                samples.record(accepted: accepted)
            }
        }
        group.addTask {
            let commands = AsyncStream<String> { continuation in
                Thread.detachNewThread {
                    while let line = readLine() { continuation.yield(line) }
                    continuation.finish()
                }
            }
            for await command in commands {
                switch command {
                case "stats":
                    let statistics = WriteStatistics(simulator.requestLog(), samples: samples.samples)
                    writeLine(String(decoding: try JSONEncoder().encode(statistics), as: UTF8.self))
                case "clear":
                    simulator.clearRequestLog()
                    samples.reset()
                    writeLine("OK")
                default:
                    writeLine("ERROR unknown command \(command)")
                }
            }
        }
        try await group.next()
        group.cancelAll()
    }
}

/// Accepted writes over time, since the request log was last cleared.
final class SampleLog: Sendable {
    private let state = Mutex<(origin: ContinuousClock.Instant, samples: [WriteStatistics.Sample])>((.now, []))

    var samples: [WriteStatistics.Sample] { state.withLock { $0.samples } }

    func record(accepted: Int) {
        state.withLock { state in
            state.samples.append(.init(seconds: (ContinuousClock.now - state.origin).seconds, accepted: accepted))
        }
    }

    func reset() { state.withLock { $0 = (.now, []) } }
}

func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The simulator in a child process, driven over its standard input and output.
final class ChildSimulator {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    var buffered = Data()
    let graphEndpoint: String
    let authority: String

    init(options: Options) throws {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = options.childArguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var ready: [Substring] = []
        while ready.first != "READY" {
            guard let line = Self.readLine(output, &buffered) else { throw BenchmarkError("the simulator process exited before it was ready") }
            ready = line.split(separator: " ")
        }
        graphEndpoint = String(ready[1])
        authority = String(ready[2])
    }

    func command(_ text: String) throws -> String {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        guard let line = Self.readLine(output, &buffered) else { throw BenchmarkError("the simulator process exited") }
        return line
    }

    func statistics() throws -> WriteStatistics {
        try JSONDecoder().decode(WriteStatistics.self, from: Data(try command("stats").utf8))
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }

    private static func readLine(_ output: Pipe, _ buffered: inout Data) -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                buffered = Data(buffered[buffered.index(after: newline)...])
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffered.append(chunk)
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: The engine side

/// Counts the engine's log events (and keeps warnings and errors to show them).
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
        guard let data = line.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return }
        let event = object["event"] as? String ?? "(none)"
        let level = object["level"] as? String ?? ""
        state.withLock { state in
            state.counts[event, default: 0] += 1
            if ["warning", "error", "critical"].contains(level), state.problems.count < 5, event != "seats.short" {
                state.problems.append(line.trimmingCharacters(in: .newlines))
            }
        }
    }
}

/// The write phases of a plan, as the engine sends them (usage locations, calls that free
/// seats, the other license calls) and the fewest batches each needs.
struct Phases {
    var usageLocations = 0
    var freeing = 0
    var adding = 0

    init(_ plan: Plan) {
        for change in plan.changes {
            if change.setUsageLocation != nil { usageLocations += 1 }
            guard let body = change.assignLicense else { continue }
            if body.removeLicenses.isEmpty { adding += 1 } else { freeing += 1 }
        }
    }

    var writes: Int { usageLocations + freeing + adding }
    var fewestBatches: Int { [usageLocations, freeing, adding].reduce(0) { $0 + ($1 + 19) / 20 } }
    var nonEmpty: Int { [usageLocations, freeing, adding].filter { $0 > 0 }.count }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

/// The sustained write rate: accepted writes per second over the paced part of the run, from
/// the moment the initial burst (10 % of the quota) has gone to the last write.
func sustainedRate(_ samples: [WriteStatistics.Sample], burst: Int) -> (rate: Double, from: Double, to: Double, writes: Int)? {
    guard let last = samples.last, let start = samples.first(where: { $0.accepted >= burst }), last.seconds > start.seconds else { return nil }
    return (Double(last.accepted - start.accepted) / (last.seconds - start.seconds), start.seconds, last.seconds, last.accepted - start.accepted)
}

/// The most writes accepted in any window of the quota's length (at the sampling's resolution).
func busiestWindow(_ samples: [WriteStatistics.Sample], window: Double) -> Int {
    var best = 0
    var startIndex = 0
    for (index, sample) in samples.enumerated() {
        while sample.seconds - samples[startIndex].seconds > window { startIndex += 1 }
        let before = startIndex == 0 ? 0 : samples[startIndex - 1].accepted
        best = max(best, sample.accepted - before)
        _ = index
    }
    return best
}

func measure(_ options: Options, child: ChildSimulator) async throws {
    let directory = NSTemporaryDirectory() + "allot-engine-benchmark-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try "benchmark-secret".write(toFile: directory + "/client-secret", atomically: true, encoding: .utf8)
    // Graph's real quota and pacing (the defaults); the guard is opened wide: this measures
    // writes, and 5 % drift removes more than the default guard allows.
    let yaml = """
        tenant: \(SampleTenant.tenantId)
        graph: { endpoint: \(child.graphEndpoint), authority: \(child.authority) }
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
    let terminal = isatty(2) == 1

    try await GraphClient.withGraphClient(configuration: try GraphClient.Configuration(loaded.configuration), logger: logger) { graph in
        let engine = ReconcileEngine(
            configuration: loaded.configuration, graph: graph, stateStore: StateStore(directory: directory + "/state"), logger: logger,
            progress: ProgressReporter(logger: logger, terminal: terminal))
        let cycleOptions = ReconcileEngine.Options(honourBackoff: false)

        _ = try child.command("clear")
        let firstStart = ContinuousClock.now
        let first = await engine.run(policies: loaded.policies, options: cycleOptions)
        let firstWall = ContinuousClock.now - firstStart
        let firstWrites = try child.statistics()
        let firstEvents = events.counts
        let firstProblems = events.problems
        guard let plan = first.plan else { throw BenchmarkError("the first cycle failed: \(first.report.error ?? "?")") }

        _ = try child.command("clear")
        events.reset()
        let secondStart = ContinuousClock.now
        let second = await engine.run(policies: loaded.policies, options: cycleOptions)
        let secondWall = ContinuousClock.now - secondStart
        let secondWrites = try child.statistics()

        let phases = Phases(plan)
        let report = first.report
        let quotaRate = Double(options.quotaWrites) / Double(options.quotaWindowSeconds)
        let burst = options.quotaWrites / 10
        let throttledShare = Double(firstWrites.itemsThrottled) / Double(max(1, firstWrites.items))
        let expectedBatches = phases.fewestBatches + firstWrites.itemsThrottled
        let sustained = sustainedRate(firstWrites.acceptedOverTime, burst: burst)
        let busiest = busiestWindow(firstWrites.acceptedOverTime, window: Double(options.quotaWindowSeconds))
        let sizes = firstWrites.batchSizes.sorted { $0.key > $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: " ")
        print(
            """
            tenant                      \(report.usersRead) users, \(format(options.drift, 0)) % drift (seed \(options.seed)); quota \(options.quotaWrites) writes / \(options.quotaWindowSeconds) s
            first cycle                 \(report.result.rawValue) in \(format(firstWall.seconds)) s; \(report.usersDrifted) users drifted, \(plan.summary.usersChanged) changed
              planned                   \(plan.summary.adds) adds, \(plan.summary.removals) removals, \(plan.summary.planChanges) plan changes, \(plan.summary.usageLocationUpdates) usage locations; \(plan.summary.deferredAdds) adds deferred (seats)
              writes by phase           \(phases.usageLocations) usage locations, \(phases.freeing) freeing calls, \(phases.adding) adding calls = \(phases.writes)
              applied / failed          \(report.applied.total) / \(report.failed.total) (not sent \(report.notSent))
              write requests ($batch)   \(firstWrites.batches) (\(firstWrites.batchesRefused) refused whole); fewest possible \(phases.fewestBatches) (Σ ⌈phase/20⌉ over \(phases.nonEmpty) phases) + \(firstWrites.itemsThrottled) throttled retries = \(expectedBatches)
              batch sizes               \(sizes)
              items                     \(firstWrites.items): \(firstWrites.itemsAccepted) accepted, \(firstWrites.itemsThrottled) answered 429 (\(format(throttledShare * 100, 2)) %), \(firstWrites.itemsFailed) failed; \(firstWrites.otherWrites) writes outside $batch
              sustained write rate      \(sustained.map { "\(format($0.rate, 2)) writes/s = \(format($0.rate / quotaRate * 100)) % of the quota (\($0.writes) writes from \(format($0.from)) s to \(format($0.to)) s)" } ?? "n/a (fewer writes than the burst)")
              busiest quota window      \(busiest) writes in \(options.quotaWindowSeconds) s (quota \(options.quotaWrites))
              events                    \(firstEvents.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            second cycle                \(second.report.result.rawValue) in \(format(secondWall.seconds)) s; \(secondWrites.batches) write requests, \(secondWrites.items + secondWrites.otherWrites) writes
            """)
        for problem in firstProblems { print("  first cycle problem: \(problem)") }
        let met = firstWrites.batches <= expectedBatches + phases.nonEmpty
            && (sustained.map { $0.rate >= 0.9 * quotaRate } ?? true) && throttledShare < 0.01
            && secondWrites.batches == 0 && secondWrites.otherWrites == 0 && report.failed.total == 0
        print(met ? "all budgets met" : "a budget was missed")
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
if options.serve {
    try await serve(options)
} else {
    let child = try ChildSimulator(options: options)
    defer { child.stop() }
    try await measure(options, child: child)
}
