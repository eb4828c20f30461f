import AllotCore
import Foundation
import Metrics

/// The engine's metrics, through swift-metrics: the daemon bootstraps a Prometheus backend
/// (`docs/metrics.md` lists names and labels); a one-off command leaves them to the no-op
/// default. Labels never carry user ids, so cardinality stays low.
struct EngineMetrics: Sendable {
    func record(_ report: CycleReport, duration: Duration) {
        Counter(label: "allot_reconcile_total", dimensions: [("result", report.result.metricLabel)]).increment()
        Metrics.Timer(label: "allot_reconcile_duration_seconds", preferredDisplayUnit: .seconds).record(duration: duration)
        guard report.result != .failed else { return }
        Gauge(label: "allot_last_success_timestamp_seconds").record(report.finishedAt.timeIntervalSince1970)
        Gauge(label: "allot_drifted_users").record(report.usersDrifted)
        Gauge(label: "allot_guard_tripped").record(report.guardrail?.holdsRemovals == true ? 1 : 0)
        for (result, counts) in [("applied", report.applied), ("failed", report.failed)] {
            for (action, count) in counts.byAction where count > 0 {
                Counter(label: "allot_changes_total", dimensions: [("action", action), ("result", result)]).increment(by: count)
            }
        }
        if report.deferredAdds > 0 {
            Counter(label: "allot_changes_total", dimensions: [("action", "add"), ("result", "deferred")]).increment(by: report.deferredAdds)
        }
        if report.skippedUsers > 0 {
            Counter(label: "allot_changes_total", dimensions: [("action", "user"), ("result", "skipped")]).increment(by: report.skippedUsers)
        }
        for seat in report.seats {
            Gauge(label: "allot_deferred_adds", dimensions: [("sku", seat.sku)]).record(seat.deferredAdds)
            Gauge(label: "allot_seats", dimensions: [("sku", seat.sku), ("state", "prepaid")]).record(seat.prepaid)
            Gauge(label: "allot_seats", dimensions: [("sku", seat.sku), ("state", "consumed")]).record(seat.consumedBefore)
            Gauge(label: "allot_seats", dimensions: [("sku", seat.sku), ("state", "available")]).record(seat.availableBefore)
        }
    }
}

extension CycleReport.Result {
    /// The `result` label of `allot_reconcile_total`.
    var metricLabel: String {
        switch self {
        case .converged: "converged"
        case .notConverged: "not_converged"
        case .drifted: "report"
        case .failed: "failed"
        }
    }
}

extension CycleReport.Counts {
    /// (action label, count) pairs for `allot_changes_total`.
    var byAction: [(String, Int)] {
        [("add", adds), ("remove", removals), ("plan_change", planChanges), ("usage_location", usageLocations)]
    }
}
