import AllotCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `AllotBenchmarks planner|impact [--users N] [--seed S] [--drift PERCENT] [--runs R] [--date-rules]`
///
/// Generates a tenant straight into the core model, then times compiling the policies plus
/// planning (the per-user change list included), single-threaded. `--date-rules` gives users
/// creation, hire and sign-in dates and makes five of the 50 policies date rules. `impact` times
/// `allot plan --compare-to` (two policy sets over one tenant, the changes named and marked)
/// against one plan with its changes named. Build it in release mode:
/// `swift run --package-path Benchmarks -c release AllotBenchmarks planner --users 1000000`. See docs/performance.md.
struct Arguments {
    var users = 1_000_000
    var seed: UInt64 = 42
    var drift = 5.0
    var runs = 5
    var dateRules = false

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            if flag == "--date-rules" {
                dateRules = true
                continue
            }
            guard let value = iterator.next() else { break }
            switch flag {
            case "--users": users = Int(value) ?? users
            case "--seed": seed = UInt64(value) ?? seed
            case "--drift": drift = Double(value) ?? drift
            case "--runs": runs = Int(value) ?? runs
            default: FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8))
            }
        }
    }
}

/// Reads a `Vm*` line of /proc/self/status, in bytes.
func memory(_ field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return 0
}

/// glibc's `malloc_trim(0)`: returns freed heap pages to the system, so RSS shows what is live.
/// (Not in Swift's Glibc module map, hence the lookup.)
func releaseFreedMemory() {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    typealias MallocTrim = @convention(c) (Int) -> Int32
    _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
}

/// CPU time this thread has used, in seconds.
func threadCPUTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }

func runPlanner(_ arguments: Arguments) throws {
    let synthetic = SyntheticTenant(
        userCount: arguments.users,
        seed: arguments.seed,
        driftPercent: arguments.drift,
        dateRules: arguments.dateRules
    )
    let policies = synthetic.policies()
    let settings = synthetic.settings()
    print(
        "generating \(arguments.users) users, \(policies.count) policies, \(settings.managedSkus.count) managed SKUs (seed \(arguments.seed))..."
    )
    let baseline = memory("VmRSS")
    let tenant = try synthetic.build()
    // Hand the generator's freed memory back to the system, then measure what the model holds.
    releaseFreedMemory()
    let withModel = memory("VmRSS")
    print(
        "tenant model: \(megabytes(tenant.storageBytes)) of storage (\(tenant.storageBytes / max(1, tenant.userCount)) bytes per user); resident: \(megabytes(withModel - baseline)) above the \(megabytes(baseline)) baseline (\((withModel - baseline) / max(1, tenant.userCount)) bytes per user); generation peaked at \(megabytes(memory("VmHWM")))"
    )
    // Reset the peak so that the planning phase's own peak can be read.
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)

    var wall: [Double] = []
    var cpu: [Double] = []
    var plan: Plan?
    var compileTimes: [Double] = []
    let rssBeforePlanning = memory("VmRSS")
    for _ in 0...arguments.runs {
        let cpuStart = threadCPUTime()
        let start = ContinuousClock.now
        let compiled = try CompiledPolicies(
            policies: policies,
            settings: settings,
            tenant: tenant,
            evaluatedAt: SyntheticTenant.evaluatedAt
        )
        let compileTime = ContinuousClock.now - start
        plan = Planner(tenant: tenant, policies: compiled, settings: settings).plan()
        compileTimes.append(compileTime.timeInterval)
        let elapsed = ContinuousClock.now - start
        wall.append(elapsed.timeInterval)
        cpu.append(threadCPUTime() - cpuStart)
    }
    wall.removeFirst()  // the first run warms caches
    cpu.removeFirst()
    guard let plan else { return }
    let summary = plan.summary
    print(
        "plan: \(summary.usersInScope) in scope, \(summary.usersChanged) users to change (\(summary.adds) adds, \(summary.removals) removals, \(summary.planChanges) plan changes, \(summary.usageLocationUpdates) usage locations), \(summary.deferredAdds) deferred, \(summary.heldThroughGroups) held through groups"
    )
    let sortedWall = wall.sorted()
    let sortedCPU = cpu.sorted()
    print(
        String(
            format: "compile + plan: wall min %.1f ms, median %.1f ms; CPU min %.1f ms, median %.1f ms (%d runs)",
            sortedWall[0] * 1000,
            sortedWall[sortedWall.count / 2] * 1000,
            sortedCPU[0] * 1000,
            sortedCPU[sortedCPU.count / 2] * 1000,
            wall.count
        )
    )
    print(
        String(
            format: "of which compiling the policies: median %.1f ms",
            compileTimes.sorted()[compileTimes.count / 2] * 1000
        )
    )
    print(
        String(
            format: "per user: %.1f ns (median wall)",
            sortedWall[sortedWall.count / 2] * 1e9 / Double(arguments.users)
        )
    )
    print(
        "RSS while planning: peak \(megabytes(memory("VmHWM"))), that is \(megabytes(memory("VmHWM") - rssBeforePlanning)) above the model (\(megabytes(memory("VmHWM") - baseline)) above the baseline)"
    )
    let materializeStart = ContinuousClock.now
    let changes = plan.changes
    let deferred = plan.deferred
    let materialize = ContinuousClock.now - materializeStart
    print(
        "materializing the named change list (\(changes.count) changes, \(deferred.count) deferred adds), outside the budget: \(materialize)"
    )
}

/// `allot plan --compare-to` against `allot plan`: the proposed policies drop the base set's last
/// policy. Both sides name every change, as printing them does.
func runImpact(_ arguments: Arguments) throws {
    let synthetic = SyntheticTenant(userCount: arguments.users, seed: arguments.seed, driftPercent: arguments.drift)
    let base = synthetic.policies()
    let proposed = Array(base.dropLast())
    let settings = synthetic.settings()
    print(
        "generating \(arguments.users) users; base \(base.count) policies, proposed without '\(base.last?.name ?? "")' (seed \(arguments.seed))..."
    )
    let tenant = try synthetic.build()
    releaseFreedMemory()
    func planner(_ policies: [Policy]) throws -> Planner {
        Planner(
            tenant: tenant,
            policies: try CompiledPolicies(policies: policies, settings: settings, tenant: tenant, evaluatedAt: 0),
            settings: settings
        )
    }
    var single: [Double] = []
    var compared: [Double] = []
    var impact: PolicyImpact?
    for _ in 0...arguments.runs {
        var start = threadCPUTime()
        let plan = try planner(proposed).plan()
        _ = plan.changes
        single.append(threadCPUTime() - start)
        start = threadCPUTime()
        impact = PolicyImpact(base: try planner(base), proposed: try planner(proposed))
        compared.append(threadCPUTime() - start)
    }
    single.removeFirst()  // the first run warms caches
    compared.removeFirst()
    guard let impact else { return }
    let summary = impact.summary
    print(
        "impact: \(summary.usersChangedByPolicy) users changed by the policy change (\(summary.addsByPolicy) adds, \(summary.removalsByPolicy) removals), \(summary.usersWithDrift) with drift, \(summary.usersWithdrawn) withdrawn"
    )
    let oneMedian = single.sorted()[single.count / 2]
    let impactMedian = compared.sorted()[compared.count / 2]
    print(
        String(
            format: "one plan, changes named: CPU median %.1f ms (min %.1f, max %.1f)",
            oneMedian * 1000,
            single.min()! * 1000,
            single.max()! * 1000
        )
    )
    print(
        String(
            format: "--compare-to: CPU median %.1f ms (min %.1f, max %.1f), %.2fx one plan (budget: under 2x)",
            impactMedian * 1000,
            compared.min()! * 1000,
            compared.max()! * 1000,
            impactMedian / oneMedian
        )
    )
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "planner":
    try runPlanner(Arguments(Array(arguments.dropFirst())))
case "impact":
    try runImpact(Arguments(Array(arguments.dropFirst())))
default:
    print("usage: AllotBenchmarks planner|impact [--users N] [--seed S] [--drift PERCENT] [--runs R] [--date-rules]")
}
