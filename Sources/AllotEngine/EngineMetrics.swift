import AllotCore
import AllotObservability
import Foundation
import Metrics

/// The engine's metrics (declared in ``AllotMetric``), through swift-metrics: the daemon
/// bootstraps a Prometheus backend (`docs/metrics.md`); a one-off command leaves them to the
/// no-op default. Labels never carry user ids, so cardinality stays low.
struct EngineMetrics: Sendable {
    func record(_ report: CycleReport, duration: Duration) {
        AllotMetric.reconciles(report.result.metricLabel).increment()
        AllotMetric.reconcileDuration.timer().record(duration: duration)
        guard report.result != .failed else { return }
        AllotMetric.lastSuccess.gauge().record(report.finishedAt.timeIntervalSince1970)
        AllotMetric.driftedUsers.gauge().record(report.usersDrifted)
        AllotMetric.guardTripped.gauge().record(report.guardrail?.holdsRemovals == true ? 1 : 0)
        for (result, counts) in [(AllotMetric.ChangeResult.applied, report.applied), (.failed, report.failed)] {
            for (action, count) in counts.byAction where count > 0 {
                AllotMetric.changes(action, result).increment(by: count)
            }
        }
        if report.deferredAdds > 0 {
            AllotMetric.changes(.add, .deferred).increment(by: report.deferredAdds)
        }
        if report.skippedUsers > 0 {
            AllotMetric.changes(.user, .skipped).increment(by: report.skippedUsers)
        }
        for seat in report.seats {
            AllotMetric.deferredAdds.gauge(seat.sku).record(seat.deferredAdds)
            AllotMetric.seats(sku: seat.sku, .prepaid).record(seat.prepaid)
            AllotMetric.seats(sku: seat.sku, .consumed).record(seat.consumedBefore)
            AllotMetric.seats(sku: seat.sku, .available).record(seat.availableBefore)
        }
        for sku in report.cost.skus {
            // A gauge holds a Double; the exact figure is in `/status` and `allot report`.
            AllotMetric.licenseMonthlyCost.gauge(sku.sku, sku.currency).record(
                NSDecimalNumber(decimal: sku.monthlyBefore.value).doubleValue
            )
        }
    }
}

extension CycleReport.Result {
    /// The `result` label of `allot_reconcile_total`.
    var metricLabel: AllotMetric.ReconcileResult {
        switch self {
        case .converged: .converged
        case .notConverged: .notConverged
        case .drifted: .report
        case .failed: .failed
        }
    }
}

extension CycleReport.Counts {
    /// (action, count) pairs for `allot_changes_total`, one per ``AllotMetric/ChangeAction/writes``.
    var byAction: [(AllotMetric.ChangeAction, Int)] {
        AllotMetric.ChangeAction.writes.map { action in
            switch action {
            case .add: (action, adds)
            case .remove: (action, removals)
            case .planChange: (action, planChanges)
            case .usageLocation: (action, usageLocations)
            case .user: (action, 0)
            }
        }
    }
}
