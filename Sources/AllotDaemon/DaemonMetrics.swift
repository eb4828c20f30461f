import AllotObservability
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
        AllotMetric.lastSuccess.gauge().record(startedAt.timeIntervalSince1970)
    }
}
