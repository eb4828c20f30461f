import Foundation

/// What a soak measured, and its report.
struct SoakResult {
    /// One daemon cycle and the daemon's resources right after it.
    struct Cycle {
        var index: Int
        var result: String
        var durationSeconds: Double
        var residentKiB: Int
        var descriptors: Int
        var drifted: Int
    }

    /// A resource's level after warm-up: medians over windows of cycles, so that one sample
    /// taken while a cycle's memory was still held does not count as growth, but a level that
    /// moves up and stays does.
    struct Growth {
        /// The median over the first window after warm-up.
        var baseline: Int
        /// The highest median over any later window.
        var highest: Int
        /// The median over the last window.
        var final: Int
        /// The highest single sample after warm-up.
        var peak: Int
        /// `highest` over `baseline`, minus one.
        var growth: Double { baseline == 0 ? 0 : Double(highest) / Double(baseline) - 1 }
    }

    var command: String
    var started: Date
    var cycles: [Cycle] = []
    var probes: [HealthProber.Probe] = []
    var driftActions = 0
    var faults: [String: Int] = [:]
    var elapsed = Duration.zero
    var exitStatus: Int32 = -1
    /// Joiners, leavers and their checks, with the fast path on.
    var membership: MembershipChanges?

    func growth(_ value: (Cycle) -> Int, warmup: Int, window: Int) -> Growth {
        let after = cycles.dropFirst(warmup).map(value)
        let medians = stride(from: 0, to: after.count, by: window).map {
            Self.median(Array(after[$0..<min($0 + window, after.count)]))
        }
        return Growth(
            baseline: medians.first ?? 0,
            highest: medians.max() ?? 0,
            final: medians.last ?? 0,
            peak: after.max() ?? 0
        )
    }

    /// The `fraction` percentile (nearest rank) of the probes' latencies.
    static func percentile(_ fraction: Double, of probes: some Collection<HealthProber.Probe>) -> Duration {
        let sorted = probes.map(\.latency).sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// `/healthz` percentiles per window of `size` cycles (probes are tagged with the cycles finished when they were sent).
    func windows(of size: Int) -> [(cycles: ClosedRange<Int>, probes: Int, p99: Duration, max: Duration)] {
        stride(from: 0, to: cycles.count, by: size).map { start in
            let range = start...(min(start + size, cycles.count) - 1)
            let inWindow = probes.filter { range.contains($0.cycle) }
            return (range, inWindow.count, Self.percentile(0.99, of: inWindow), inWindow.map(\.latency).max() ?? .zero)
        }
    }

    var failedProbes: Int { probes.filter { $0.status != 200 }.count }

    func meets(_ budgets: SoakBudgets, warmup: Int) -> Bool {
        growth(\.residentKiB, warmup: warmup, window: budgets.window).growth < budgets.maxGrowth
            && growth(\.descriptors, warmup: warmup, window: budgets.window).growth < budgets.maxGrowth
            && Self.percentile(0.99, of: probes) < budgets.healthP99
            && windows(of: budgets.window).allSatisfy { $0.p99 < budgets.healthP99 }
            && failedProbes == 0 && exitStatus == 0 && (membership?.problems.isEmpty ?? true)
    }

    /// The Markdown report (the figures docs/performance.md records).
    func report(settings: SoakSettings, budgets: SoakBudgets) -> String {
        let memory = growth(\.residentKiB, warmup: settings.warmup, window: budgets.window)
        let descriptors = growth(\.descriptors, warmup: settings.warmup, window: budgets.window)
        let results = Dictionary(grouping: cycles, by: \.result).map { "\($0.key) \($0.value.count)" }.sorted().joined(
            separator: ", "
        )
        let durations = cycles.map(\.durationSeconds).sorted()
        var lines =
            [
                "## Daemon soak",
                "",
                "command: `\(command)`",
                "started: \(started.formatted(.iso8601)), \(ProcessInfo.processInfo.activeProcessorCount) cores, took \(Self.format(elapsed))",
                "cycles: \(cycles.count) (\(results)); cycle time median \(String(format: "%.2f", Self.median(durations))) s, max \(String(format: "%.2f", durations.last ?? 0)) s",
                "drift: \(driftActions) changes accepted by Graph; faults armed: "
                    + faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                "",
                "| budget | limit | measured | |",
                "|---|---|---|---|",
                row(
                    "resident memory growth after warm-up (\(settings.warmup) cycles)",
                    "< \(Int(budgets.maxGrowth * 100)) %",
                    memory,
                    unit: "MiB",
                    scale: 1024,
                    budgets
                ),
                row(
                    "open descriptors growth after warm-up",
                    "< \(Int(budgets.maxGrowth * 100)) %",
                    descriptors,
                    unit: "",
                    scale: 1,
                    budgets
                ),
                "| `/healthz` p99, all \(probes.count) probes | < \(Self.format(budgets.healthP99)) | \(Self.format(Self.percentile(0.99, of: probes))) (p50 \(Self.format(Self.percentile(0.5, of: probes))), max \(Self.format(probes.map(\.latency).max() ?? .zero))) | \(Self.percentile(0.99, of: probes) < budgets.healthP99 ? "ok" : "**missed**") |",
                "| `/healthz` p99, worst window of \(budgets.window) cycles | < \(Self.format(budgets.healthP99)) | \(Self.format(windows(of: budgets.window).map(\.p99).max() ?? .zero)) | \(windows(of: budgets.window).allSatisfy { $0.p99 < budgets.healthP99 } ? "ok" : "**missed**") |",
                "| `/healthz` answers other than 200 | 0 | \(failedProbes) | \(failedProbes == 0 ? "ok" : "**missed**") |",
                "| exit status after SIGTERM | 0 | \(exitStatus) | \(exitStatus == 0 ? "ok" : "**missed**") |",
            ] + membershipRows() + [
                "",
                "Growth: the highest median over a window of \(budgets.window) cycles after warm-up, against the first such window's median.",
                "",
                "| cycles | probes | p99 | max |",
                "|---|---|---|---|",
            ]
        for window in windows(of: budgets.window) {
            lines.append(
                "| \(window.cycles.lowerBound + 1)-\(window.cycles.upperBound + 1) | \(window.probes) | \(Self.format(window.p99)) | \(Self.format(window.max)) |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The fast path's rows: joiners licensed and their wait, wrongful removals.
    private func membershipRows() -> [String] {
        guard let membership else { return [] }
        let waits = membership.latencies
        let unlicensed = membership.problems.filter { $0.contains("joiner") }.count
        let removals = membership.problems.count - unlicensed
        let wait =
            waits.isEmpty
            ? ""
            : "; wait from the membership write, \(waits.count) polled with no fault armed: median \(Self.format(waits[waits.count / 2])), max \(Self.format(waits.last!))"
        return [
            "| joiners licensed (\(membership.joiners.count) made, Platform Engineering) | all | \(membership.licensed)\(wait); \(unlicensed) not licensed in time | \(unlicensed == 0 ? "ok" : "**missed**") |",
            "| wrongful removals (\(membership.leavers) leavers of PMO, \(membership.checks) checks of every user's licenses) | 0 | \(removals) | \(removals == 0 ? "ok" : "**missed**") |",
        ] + membership.problems.prefix(20).map { "| | | \($0) | |" }
    }

    private func row(
        _ name: String,
        _ limit: String,
        _ growth: Growth,
        unit: String,
        scale: Int,
        _ budgets: SoakBudgets
    ) -> String {
        func value(_ number: Int) -> String {
            scale == 1 ? "\(number)" : String(format: "%.1f %@", Double(number) / Double(scale), unit)
        }
        let verdict = growth.growth < budgets.maxGrowth ? "ok" : "**missed**"
        return
            "| \(name) | \(limit) | \(String(format: "%+.1f", growth.growth * 100)) % (first window \(value(growth.baseline)), highest \(value(growth.highest)), last \(value(growth.final)); highest sample \(value(growth.peak))) | \(verdict) |"
    }

    /// One row per cycle.
    func csv() -> String {
        (["cycle,result,duration_seconds,drifted,resident_kib,descriptors,healthz_probes,healthz_p99_ms"]
            + cycles.map { cycle in
                let inCycle = probes.filter { $0.cycle == cycle.index - 1 }
                let p99 =
                    Double(Self.percentile(0.99, of: inCycle).components.attoseconds) / 1e15
                    + Double(Self.percentile(0.99, of: inCycle).components.seconds) * 1000
                return
                    "\(cycle.index),\(cycle.result),\(cycle.durationSeconds),\(cycle.drifted),\(cycle.residentKiB),\(cycle.descriptors),\(inCycle.count),\(String(format: "%.2f", p99))"
            }).joined(separator: "\n") + "\n"
    }

    static func median(_ values: [Int]) -> Int {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func format(_ duration: Duration) -> String {
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return milliseconds >= 10_000
            ? String(format: "%.0f s", milliseconds / 1000) : String(format: "%.1f ms", milliseconds)
    }
}
