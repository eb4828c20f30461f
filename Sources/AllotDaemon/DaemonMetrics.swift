import AllotEngine
import Foundation
import Metrics

/// The series `allot run` exposes from its first second (`docs/metrics.md`).
///
/// Counters exist at zero before their first event: Prometheus's `increase()` and `rate()`
/// cannot see the step from a missing series to 1, so an alert on the first policy load error
/// or the first failed change would otherwise never fire.
/// `allot_last_success_timestamp_seconds` starts at the daemon's start time, so that "no
/// success for 3 intervals" also fires for a daemon that has never had a successful cycle.
enum DaemonMetrics {
    static func registerInitialSeries(startedAt: Date) {
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
        Gauge(label: "allot_last_success_timestamp_seconds").record(startedAt.timeIntervalSince1970)
    }
}
