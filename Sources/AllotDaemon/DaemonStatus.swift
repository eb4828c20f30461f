import AllotCore
import AllotEngine
import Foundation
import Synchronization

/// The daemon's state as the status server, the systemd notifier and the loop see it: one
/// lock, small values, copied out for every reader.
public final class DaemonStatus: Sendable {
    /// What `/status` returns (documented in `docs/status.md`).
    public struct Snapshot: Sendable, Codable, Equatable {
        public var version: String
        public var startedAt: Date
        public var interval: Double
        public var mode: String
        public var policies: Policies
        public var lastCycle: CycleReport?
        /// The last fast pass (delta queries between cycles), or nil when none ran yet.
        public var lastFastPass: FastPassReport?
        public var cycleInProgress: CycleInProgress?
        public var nextCycleAt: Date?
        public var lastTickAt: Date
        public var health: Probe
        public var readiness: Probe
        /// Seats per managed SKU as the last cycle that read them saw them (kept through failed reads).
        public var seats: [SeatCount]
        /// The monthly cost of the priced managed SKUs (`prices:`) before and after the plan of the
        /// last cycle that read the tenant (kept through failed reads, like `seats`).
        public var cost: PlanCost
        public var recentErrors: [RecentError]
    }

    /// The policy set in use, and the last load problem.
    public struct Policies: Sendable, Codable, Equatable {
        public var revision: String
        public var files: [String]
        public var count: Int
        public var loadedAt: Date
        /// The problems of the last load that failed (the last good set stays in use), else nil.
        public var lastError: [String]?
    }

    /// A cycle running now.
    public struct CycleInProgress: Sendable, Codable, Equatable {
        public var startedAt: Date
    }

    /// A probe's answer and why.
    public struct Probe: Sendable, Codable, Equatable {
        public var ok: Bool
        public var reason: String?
    }

    /// A recent problem, newest last.
    public struct RecentError: Sendable, Codable, Equatable {
        public var at: Date
        public var message: String
    }

    static let recentErrorsKept = 20

    private struct State {
        var startedAt: Date
        var interval: Duration
        var mode: String
        var policies: Policies
        var lastCycle: CycleReport?
        var lastFastPass: FastPassReport?
        var cycleStartedAt: Date?
        var nextCycleAt: Date?
        var lastTickAt: Date
        /// The seats the last cycle that read them saw (a failed read reads none).
        var seats: [SeatCount] = []
        var cost = PlanCost()
        var recentErrors: [RecentError] = []
    }

    private let state: Mutex<State>

    public init(startedAt: Date, interval: Duration, mode: String, policies: Policies) {
        state = Mutex(
            State(startedAt: startedAt, interval: interval, mode: mode, policies: policies, lastTickAt: startedAt)
        )
    }

    /// The loop is about to start a cycle.
    func cycleStarted(at time: Date) {
        state.withLock {
            $0.cycleStartedAt = time
            $0.nextCycleAt = nil
            $0.lastTickAt = time
        }
    }

    /// The cycle in progress took a step (a page read, a chunk of writes answered): the loop is
    /// alive however long the cycle lasts.
    func progressed(at time: Date) {
        state.withLock { $0.lastTickAt = time }
    }

    /// The loop finished a cycle and scheduled the next.
    func cycleFinished(_ report: CycleReport, nextAt: Date?) {
        state.withLock {
            $0.lastCycle = report
            $0.cycleStartedAt = nil
            $0.nextCycleAt = nextAt
            $0.lastTickAt = report.finishedAt
            if !report.seats.isEmpty {
                $0.seats = report.seats
                $0.cost = report.cost
            }
            if report.result == .failed, let error = report.error {
                Self.remember(error, at: report.finishedAt, in: &$0)
            }
            for failure in report.failures.prefix(5) {
                Self.remember(
                    "\(failure.userPrincipalName): \(failure.code ?? failure.kind): \(failure.message)",
                    at: report.finishedAt,
                    in: &$0
                )
            }
        }
    }

    /// The loop finished a fast pass.
    func fastPassFinished(_ report: FastPassReport) {
        state.withLock {
            $0.lastFastPass = report
            $0.lastTickAt = report.finishedAt
            if report.result == .failed, let reason = report.reason {
                Self.remember("fast pass failed: \(reason)", at: report.finishedAt, in: &$0)
            }
        }
    }

    /// A new policy set (and settings) is in use.
    func policiesLoaded(_ policies: Policies, interval: Duration, mode: String) {
        state.withLock {
            $0.policies = policies
            $0.interval = interval
            $0.mode = mode
        }
    }

    /// A reload failed: the last good set stays.
    func policiesRejected(_ problems: [String], at time: Date) {
        state.withLock {
            $0.policies.lastError = problems
            Self.remember(
                "policies invalid: " + (problems.first ?? "unknown problem")
                    + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""),
                at: time,
                in: &$0
            )
        }
    }

    private static func remember(_ message: String, at time: Date, in state: inout State) {
        state.recentErrors.append(RecentError(at: time, message: message))
        if state.recentErrors.count > recentErrorsKept {
            state.recentErrors.removeFirst(state.recentErrors.count - recentErrorsKept)
        }
    }

    /// Everything, as `/status` shows it, judged at `now`.
    public func snapshot(now: Date) -> Snapshot {
        state.withLock { state in
            Snapshot(
                version: AllotVersion.current,
                startedAt: state.startedAt,
                interval: Double(state.interval.components.seconds),
                mode: state.mode,
                policies: state.policies,
                lastCycle: state.lastCycle,
                lastFastPass: state.lastFastPass,
                cycleInProgress: state.cycleStartedAt.map(CycleInProgress.init),
                nextCycleAt: state.nextCycleAt,
                lastTickAt: state.lastTickAt,
                health: Self.health(state, now: now),
                readiness: Self.readiness(state),
                seats: state.seats,
                cost: state.cost,
                recentErrors: state.recentErrors
            )
        }
    }

    /// `/healthz`: alive while the loop has ticked (started, progressed in or finished a cycle)
    /// within three intervals, and never less than 60 seconds.
    public func health(now: Date) -> Probe { state.withLock { Self.health($0, now: now) } }

    /// `/readyz`: ready once policies are loaded and the last cycle succeeded without holding
    /// removals (guard tripped, group shrunk).
    public func readiness() -> Probe { state.withLock { Self.readiness($0) } }

    private static func health(_ state: State, now: Date) -> Probe {
        let limit = Double(state.interval.components.seconds) * 3
        let silence = now.timeIntervalSince(state.lastTickAt)
        return silence <= max(limit, 60)
            ? Probe(ok: true, reason: nil)
            : Probe(
                ok: false,
                reason: "the reconcile loop has not ticked for \(Int(silence)) s (more than 3 intervals, and 60 s)"
            )
    }

    private static func readiness(_ state: State) -> Probe {
        if let problems = state.policies.lastError {
            return Probe(
                ok: false,
                reason: "policies invalid (the last good set is still in use): " + (problems.first ?? "")
            )
        }
        guard let cycle = state.lastCycle else {
            return Probe(ok: false, reason: "the first cycle has not finished yet")
        }
        if cycle.result == .failed {
            return Probe(ok: false, reason: "the last cycle failed: \(cycle.error ?? "unknown error")")
        }
        if let refused = cycle.writesRefused { return Probe(ok: false, reason: refused) }
        if let guardrail = cycle.guardrail, guardrail.holdsRemovals {
            return Probe(ok: false, reason: "removal guard tripped: \(guardrail.reason ?? "")")
        }
        let held = cycle.shrunkGroups.filter(\.held)
        if !held.isEmpty {
            let groups = held.map {
                "'\($0.displayName)' (\($0.groupId)) from \($0.usersBefore) to \($0.usersNow) users"
            }
            return Probe(
                ok: false,
                reason:
                    "group shrunk suddenly: \(groups.joined(separator: ", ")); the removals it causes are held until the smaller "
                    + "count is read again next cycle, or an operator runs `allot apply --allow-mass-removal`"
            )
        }
        return Probe(ok: true, reason: nil)
    }

    /// The one-line `STATUS=` systemd shows in `systemctl status`.
    public func systemdStatusLine() -> String {
        state.withLock { state in
            guard let cycle = state.lastCycle else { return "waiting for the first cycle" }
            let applied = cycle.applied.total
            let failed = cycle.failed.total
            return
                "last cycle \(cycle.result.rawValue): \(cycle.usersRead) users read, \(cycle.usersDrifted) drifted, \(applied) changes applied"
                + (failed > 0 ? ", \(failed) failed" : "")
                + (cycle.deferredAdds > 0 ? ", \(cycle.deferredAdds) deferred" : "")
                + ((cycle.guardrail?.tripped ?? false) ? ", guard tripped" : "")
                + (cycle.heldRemovals > 0 ? ", \(cycle.heldRemovals) removals held" : "")
        }
    }
}
