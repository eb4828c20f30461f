import AllotEngine
import AllotObservability
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
    /// The series that exist from the start; `lastSuccess` is what the state file remembers.
    static func registerInitialSeries(startedAt: Date, lastSuccess: Date?, version: String, commit: String) {
        AllotMetric.buildInfo.gauge(version, commit).record(1)
        for result in AllotMetric.ReconcileResult.allCases {
            AllotMetric.reconciles(result).increment(by: 0)
        }
        for action in AllotMetric.ChangeAction.writes {
            for result in [AllotMetric.ChangeResult.applied, .failed] {
                AllotMetric.changes(action, result).increment(by: 0)
            }
        }
        AllotMetric.changes(.add, .deferred).increment(by: 0)
        AllotMetric.policyLoadErrorsTotal.counter().increment(by: 0)
        for result in FastPassReport.Result.allCases {
            AllotMetric.fastPathTotal.counter(result.metricLabel).increment(by: 0)
        }
        for kind in AllotMetric.FastPathRequestKind.allCases {
            AllotMetric.fastPathRequestsTotal.counter(kind.rawValue).increment(by: 0)
        }
        AllotMetric.fastPathUsersAffectedTotal.counter().increment(by: 0)
        AllotMetric.lastSuccess.gauge().record((lastSuccess ?? startedAt).timeIntervalSince1970)
        ProcessMetrics.shared.update()
    }

    /// The Prometheus text exposition with a `# HELP` line before each `# TYPE` line, as
    /// `promtool check metrics` requires. swift-metrics has no place for help text; it comes
    /// from the one catalogue, ``AllotMetric/helpByName`` (a metric missing there is a bug: the
    /// `metricsPassPromtool` test fails).
    static func exposition(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 4096)
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("# TYPE "), let name = text.dropFirst(7).split(separator: " ").first,
                let help = AllotMetric.helpByName[String(name)]
            {
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
            if total > reported { AllotMetric.processCPUSeconds.floatingPointCounter().increment(by: total - reported) }
            reported = max(reported, total)
        }
        AllotMetric.processVirtualMemory.gauge().record(field(23))
        AllotMetric.processResidentMemory.gauge().record(field(24) * pageSize)
        if let bootTime = Self.bootTime() { AllotMetric.processStartTime.gauge().record(bootTime + field(22) / ticks) }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            AllotMetric.processOpenFDs.gauge().record(descriptors.count)
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            AllotMetric.processMaxFDs.gauge().record(Double(limit.rlim_cur))
        }
    }

    /// The `btime` line of `/proc/stat`: when the system booted, in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
