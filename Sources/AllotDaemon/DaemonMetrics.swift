import AllotEngine
import Foundation
import Metrics
import Synchronization

/// The series `allot run` exposes from its first second (`docs/metrics.md`), their HELP text,
/// and the standard `process_*` series.
///
/// Counters exist at zero before their first event: Prometheus's `increase()` and `rate()`
/// cannot see the step from a missing series to 1, so an alert on the first policy load error
/// or the first failed change would otherwise never fire.
/// `allot_last_success_timestamp_seconds` starts at the last success the state file remembers,
/// else at the daemon's start time, so that "no success for 3 intervals" also fires for a
/// daemon that crash-loops or has never had a successful cycle.
enum DaemonMetrics {
    /// The `# HELP` text of every metric the daemon serves, by name. swift-metrics has no place
    /// for help text, so ``exposition(_:)`` adds it; a metric missing here is a bug (the
    /// `metricsPassPromtool` test fails).
    static let help: [String: String] = [
        "allot_build_info": "Always 1; the labels say which Allot runs (version, commit).",
        "allot_reconcile_total": "Reconcile cycles run, by how they ended.",
        "allot_reconcile_duration_seconds": "How long each reconcile cycle took, failed ones included.",
        "allot_last_success_timestamp_seconds": "When the last reconcile cycle that did not fail finished (Unix time), kept across restarts.",
        "allot_interval_seconds": "reconcile.interval in seconds.",
        "allot_fastpath_total": "Fast passes run, by how they ended.",
        "allot_fastpath_duration_seconds": "How long each fast pass took.",
        "allot_fastpath_requests_total": "Requests fast passes made: delta pages, user read batches, SKU reads.",
        "allot_fastpath_users_affected_total": "Users fast passes read and planned again.",
        "allot_fastpath_change_to_license_seconds": "Per license a fast pass added: from the delta round before the change to the write's answer.",
        "allot_drifted_users": "Users whose licenses differed from the policies in the last cycle that did not fail.",
        "allot_changes_total": "License changes by kind (action) and outcome (result).",
        "allot_deferred_adds": "Adds the last cycle deferred for lack of seats, per managed SKU.",
        "allot_seats": "Seats per managed SKU as the last cycle read them (prepaid, consumed, available).",
        "allot_guard_tripped": "1 while the last cycle's mass-removal guard held its removals, else 0.",
        "allot_graph_requests_total": "HTTP requests to Microsoft Graph and Entra ID (every attempt, batch items included), by operation and status.",
        "allot_graph_throttled_total": "429 answers from Microsoft Graph, by operation.",
        "allot_policy_load_errors_total": "Policy sets or configurations refused as invalid.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
    ]

    /// The series that exist from the start; `lastSuccess` is what the state file remembers.
    static func registerInitialSeries(startedAt: Date, lastSuccess: Date?, version: String, commit: String) {
        Gauge(label: "allot_build_info", dimensions: [("version", version), ("commit", commit)]).record(1)
        for result in ["converged", "not_converged", "failed", "report"] {
            Counter(label: "allot_reconcile_total", dimensions: [("result", result)]).increment(by: 0)
        }
        for action in ["add", "remove", "plan_change", "usage_location"] {
            for result in ["applied", "failed"] {
                Counter(label: "allot_changes_total", dimensions: [("action", action), ("result", result)]).increment(by: 0)
            }
        }
        Counter(label: "allot_changes_total", dimensions: [("action", "add"), ("result", "deferred")]).increment(by: 0)
        Counter(label: "allot_policy_load_errors_total").increment(by: 0)
        for result in FastPassReport.Result.allCases {
            Counter(label: "allot_fastpath_total", dimensions: [("result", result.metricLabel)]).increment(by: 0)
        }
        for kind in ["delta", "users", "skus"] {
            Counter(label: "allot_fastpath_requests_total", dimensions: [("kind", kind)]).increment(by: 0)
        }
        Counter(label: "allot_fastpath_users_affected_total").increment(by: 0)
        Gauge(label: "allot_last_success_timestamp_seconds").record((lastSuccess ?? startedAt).timeIntervalSince1970)
        ProcessMetrics.shared.update()
    }

    /// The Prometheus text exposition with a `# HELP` line before each `# TYPE` line, as
    /// `promtool check metrics` requires.
    static func exposition(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 4096)
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("# TYPE "), let name = text.dropFirst(7).split(separator: " ").first, let help = help[String(name)] {
                out += Array("# HELP \(name) \(help)\n".utf8)
            }
            out += line
            out.append(UInt8(ascii: "\n"))
        }
        if bytes.last == UInt8(ascii: "\n") { out.removeLast() }
        return out
    }
}

/// The standard `process_*` series of Prometheus client libraries (CPU, memory, file
/// descriptors, start time), read from `/proc/self` on every scrape. swift-metrics' own
/// `SystemMetrics` lives in a package this project does not mirror; these are the same names.
final class ProcessMetrics: Sendable {
    static let shared = ProcessMetrics()

    /// The CPU seconds already added to `process_cpu_seconds_total` (a counter only grows by increments).
    private let reportedCPUSeconds = Mutex<Double>(0)

    /// Reads `/proc/self` and records every series; on a system without `/proc` it records nothing.
    func update() {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return }
        // Fields after the command name, from field 3 (state): see proc_pid_stat(5).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let total = (field(14) + field(15)) / ticks
        reportedCPUSeconds.withLock { reported in
            if total > reported { FloatingPointCounter(label: "process_cpu_seconds_total").increment(by: total - reported) }
            reported = max(reported, total)
        }
        Gauge(label: "process_virtual_memory_bytes").record(field(23))
        Gauge(label: "process_resident_memory_bytes").record(field(24) * pageSize)
        if let bootTime = Self.bootTime() { Gauge(label: "process_start_time_seconds").record(bootTime + field(22) / ticks) }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            Gauge(label: "process_open_fds").record(descriptors.count)
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { Gauge(label: "process_max_fds").record(Double(limit.rlim_cur)) }
    }

    /// The `btime` line of `/proc/stat`: when the system booted, in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
