// The Graph read benchmark: a full tenant read (users with licenses, 20 referenced groups,
// SKUs) against the built-in simulator on loopback, measuring requests, the client's CPU time
// per user and its peak resident memory. See docs/performance.md ("Graph read").
//
//     swift run --package-path Benchmarks -c release AllotGraphBenchmark [--users 100000] [--seed 1] [--groups 20] [--sign-in-activity] [--in-process]
//
// `--sign-in-activity` reads users' `signInActivity` too, as a policy testing it makes Allot do:
// Graph then serves at most 500 users a page.
//
// By default the simulator runs in a child process (this executable with `serve`), so that
// the CPU the simulator spends is not counted as Allot's.

import AllotCore
import AllotGraph
import AllotSimulator
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Options {
    var users = 100_000
    var seed: UInt64 = 1
    var groups = 20
    var inProcess = false
    var serve = false
    var signInActivity = false

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "serve": serve = true
            case "--users": users = Int(iterator.next() ?? "") ?? users
            case "--seed": seed = UInt64(iterator.next() ?? "") ?? seed
            case "--groups": groups = Int(iterator.next() ?? "") ?? groups
            case "--in-process": inProcess = true
            case "--sign-in-activity": signInActivity = true
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
    }
}

/// The generated tenant with enough groups for the benchmark: the sample groups plus
/// deterministic extra ones ("Benchmark group N", each every k-th user), up to `groups`.
func benchmarkTenant(_ options: Options) -> Snapshot {
    var tenant = TenantGenerator(
        users: options.users,
        seed: options.seed,
        lifecycleDatesAsOf: options.signInActivity ? Date() : nil
    ).generate()
    var index = 0
    while tenant.groups.count < options.groups {
        let stride = 3 + index
        let members = tenant.users.indices.filter { $0 % stride == index % stride }.map { tenant.users[$0].id }
        tenant.groups.append(
            DirectoryGroup(
                id: GUID(high: 0xbe9c_0000_0000_4000, low: 0x8000_0000_0000_0000 | UInt64(index + 1)),
                displayName: "Benchmark group \(index + 1)",
                members: members
            )
        )
        index += 1
    }
    return tenant
}

/// The simulator's configuration: Allot's roles, with `AuditLog.Read.All` to read sign-in activity.
func simulatorConfiguration(_ options: Options) -> SimulatorConfiguration {
    SimulatorConfiguration(
        defaultRoles: SimulatedApplication.allotRoles.union(options.signInActivity ? ["AuditLog.Read.All"] : [])
    )
}

/// The user properties the read selects, as policies would name them.
func attributes(_ options: Options) -> [String] {
    [
        "accountEnabled", "userType", "department", "jobTitle", "country",
        "onPremisesExtensionAttributes.extensionAttribute1",
    ]
        + (options.signInActivity ? ["signInActivity.lastSuccessfulSignInDateTime"] : [])
}

/// Which group names the read references: the first `count` groups of the tenant.
func groupReferences(_ tenant: Snapshot, count: Int) -> [String] {
    tenant.groups.prefix(count).map(\.displayName)
}

/// This process's resource usage.
func resourceUsage() -> rusage {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return usage
}

func cpuSeconds() -> Double {
    let usage = resourceUsage()
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func peakResidentMegabytes() -> Double {
    let usage = resourceUsage()
    #if canImport(Darwin)
    return Double(usage.ru_maxrss) / 1_048_576
    #else
    return Double(usage.ru_maxrss) / 1024
    #endif
}

/// Requests the simulator logged, by kind.
struct RequestCounts: Codable {
    var token = 0
    var userPages = 0
    var groupLookups = 0
    var memberPages = 0
    var skuReads = 0
    var other = 0
    var failed = 0
    var total: Int { token + userPages + groupLookups + memberPages + skuReads + other }

    init(_ log: [LoggedRequest]) {
        for entry in log {
            if entry.status >= 400 { failed += 1 }
            let path = entry.path
            if path.contains("/oauth2/v2.0/token") {
                token += 1
            } else if path.hasPrefix("/v1.0/users") {
                userPages += 1
            } else if path.contains("/transitiveMembers") {
                memberPages += 1
            } else if path.hasPrefix("/v1.0/groups") {
                groupLookups += 1
            } else if path.hasPrefix("/v1.0/subscribedSkus") {
                skuReads += 1
            } else {
                other += 1
            }
        }
    }
}

/// `serve`: runs the simulator; prints `READY <graph> <authority>`; answers `log` on stdin
/// with the request counts as JSON; exits at end of input.
func serve(_ options: Options) async throws {
    let tenant = benchmarkTenant(options)
    let groups = groupReferences(tenant, count: options.groups)
    let simulator = GraphSimulator(tenant: tenant, configuration: simulatorConfiguration(options))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await simulator.run { endpoints in
                writeLine("GROUPS " + String(decoding: (try? JSONEncoder().encode(groups)) ?? Data(), as: UTF8.self))
                writeLine("READY \(endpoints.graphEndpoint) \(endpoints.authority)")
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
                case "log":
                    let counts = RequestCounts(simulator.requestLog())
                    writeLine(String(decoding: try JSONEncoder().encode(counts), as: UTF8.self))
                case "clear":
                    simulator.clearRequestLog()
                    writeLine("OK")
                default:
                    break
                }
            }
        }
        try await group.next()
        group.cancelAll()
    }
}

/// Writes one line to standard output at once (the parent reads it through a pipe).
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A simulator in a child process, driven over its standard input and output.
final class ChildSimulator {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    var buffered = Data()
    let graphEndpoint: String
    let authority: String
    var groups: [String] = []

    init(options: Options) throws {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments =
            ["serve", "--users", "\(options.users)", "--seed", "\(options.seed)", "--groups", "\(options.groups)"]
            + (options.signInActivity ? ["--sign-in-activity"] : [])
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var ready: [Substring] = []
        while ready.first != "READY" {
            guard let line = ChildSimulator.readLine(output, &buffered) else {
                throw BenchmarkError("the simulator process exited before it was ready")
            }
            if line.hasPrefix("GROUPS ") {
                groups = try JSONDecoder().decode([String].self, from: Data(line.dropFirst(7).utf8))
            }
            ready = line.split(separator: " ")
        }
        graphEndpoint = String(ready[1])
        authority = String(ready[2])
    }

    func command(_ text: String) throws -> String {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        guard let line = ChildSimulator.readLine(output, &buffered) else {
            throw BenchmarkError("the simulator process exited")
        }
        return line
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }

    static func readLine(_ pipe: Pipe, _ buffered: inout Data) -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                buffered = Data(buffered[buffered.index(after: newline)...])
                return line
            }
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffered.append(chunk)
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads the tenant once and prints the figures.
func measure(
    graphEndpoint: String,
    authority: String,
    groups: [String],
    attributes: [String],
    counts: () throws -> RequestCounts
) async throws {
    let directory = NSTemporaryDirectory() + "allot-graph-benchmark-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let secretFile = directory + "/client-secret"
    try "benchmark-secret".write(toFile: secretFile, atomically: true, encoding: .utf8)
    let configuration = GraphClient.Configuration(
        tenant: SampleTenant.tenantDomain,
        clientId: "00000000-0000-4000-8000-00000000be9c",
        credential: .clientSecretFile(secretFile),
        graphEndpoint: graphEndpoint,
        authority: authority
    )
    var logger = Logger(label: "allot.graph.benchmark")
    logger.logLevel = .warning

    let wallStart = ContinuousClock.now
    let faultsStart = resourceUsage().ru_minflt
    let cpuStart = cpuSeconds()
    let model = try await GraphClient.withGraphClient(configuration: configuration, logger: logger) { client in
        try await client.readTenant(attributes: attributes, groups: groups)
    }
    let cpu = cpuSeconds() - cpuStart
    let faults = resourceUsage().ru_minflt - faultsStart
    let wall = (ContinuousClock.now - wallStart)
    let peak = peakResidentMegabytes()

    let requestCounts = try counts()
    let pageSize = GraphClient.userPageSize(attributes: attributes)
    let userPages = (model.userCount + pageSize - 1) / pageSize
    var lowerBound = 1 + userPages + 1 + groups.count
    let members = model.groups.indices.map { model.memberCount(ofGroup: $0) }
    let memberPages = members.reduce(0) { $0 + max(1, ($1 + 998) / 999) }
    lowerBound += memberPages
    let microsecondsPerUser = cpu * 1e6 / Double(max(model.userCount, 1))
    print(
        """
        users read                  \(model.userCount)
        groups read                 \(model.groups.count) (\(members.reduce(0, +)) memberships)
        SKUs read                   \(model.subscribedSkus.count)
        requests                    \(requestCounts.total) (token \(requestCounts.token), user pages \(requestCounts.userPages), group lookups \(requestCounts.groupLookups), member pages \(requestCounts.memberPages), SKU reads \(requestCounts.skuReads), other \(requestCounts.other), failed \(requestCounts.failed))
        lower bound                 \(lowerBound) (1 token + \(userPages) user pages of \(pageSize) + \(groups.count) group lookups + \(memberPages) member pages + 1 SKU read)
        wall time                   \(String(format: "%.2f", wall.timeInterval)) s
        client CPU (user+sys)       \(String(format: "%.3f", cpu)) s
        client CPU per user         \(String(format: "%.2f", microsecondsPerUser)) µs   (budget 10 µs)
        peak resident memory        \(String(format: "%.1f", peak)) MB   (budget 256 MB)
        minor page faults           \(faults)
        """
    )
    let withinBudget = requestCounts.total == lowerBound && microsecondsPerUser < 10 && peak < 256
    print(withinBudget ? "all budgets met" : "a budget was missed")
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
if options.serve {
    try await serve(options)
} else if options.inProcess {
    let tenant = benchmarkTenant(options)
    let simulator = GraphSimulator(tenant: tenant, configuration: simulatorConfiguration(options))
    try await simulator.withRunning { simulator, endpoints in
        try await measure(
            graphEndpoint: endpoints.graphEndpoint,
            authority: endpoints.authority,
            groups: groupReferences(tenant, count: options.groups),
            attributes: attributes(options)
        ) { RequestCounts(simulator.requestLog()) }
    }
} else {
    let child = try ChildSimulator(options: options)
    defer { child.stop() }
    try await measure(
        graphEndpoint: child.graphEndpoint,
        authority: child.authority,
        groups: child.groups,
        attributes: attributes(options)
    ) {
        try JSONDecoder().decode(RequestCounts.self, from: Data(try child.command("log").utf8))
    }
}
