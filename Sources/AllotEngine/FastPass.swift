import AllotObservability
import AllotCore
import AllotGraph
import Foundation
import Logging
import Metrics

/// What the fast path keeps between passes: the tenant model of the last full cycle, updated
/// in place by every fast pass, and the delta links to follow next.
public struct FastPathState: Sendable {
    public var tenant: TenantModel
    public var links: DeltaLinks
    /// The attributes the policies test (the users delta selects them).
    public var attributes: [String]
    /// Licenses removed by fast passes since the full cycle: the guard counts them with each
    /// fast pass's own.
    public var removalsSinceFullCycle = 0
    /// When the last delta round began: a change a round reports happened after it.
    public var lastRoundAt: Date
}

/// The outcome of one fast pass (`/status` `lastFastPass`).
public struct FastPassReport: Sendable, Codable, Equatable {
    /// How the pass ended.
    public enum Result: String, Sendable, Codable, CaseIterable {
        /// The delta rounds reported nothing that changes a plan.
        case nothingChanged = "nothing_changed"
        case converged
        case notConverged = "not_converged"
        /// A plan was made in `mode: report`; nothing was written.
        case drifted
        /// A delta link was refused or the delta cannot be applied exactly: a full cycle follows.
        case fullCycleNeeded = "full_cycle"
        /// A read failed: nothing was changed, the same links are followed next pass.
        case failed
    }

    public var startedAt: Date
    public var finishedAt: Date
    public var result: Result
    /// Users whose wanted licenses may have changed (joined, left, attributes, created).
    public var usersAffected: Int
    public var usersDeleted: Int
    /// Requests: delta pages, user reads (`$batch` of 20), `subscribedSkus`.
    public var deltaRequests: Int
    public var userReadRequests: Int
    public var skuRequests: Int
    public var planned: CycleReport.Counts
    public var applied: CycleReport.Counts
    public var failed: CycleReport.Counts
    /// Why a full cycle is needed, or what failed.
    public var reason: String?
}

extension ReconcileEngine {
    /// Runs a full cycle as ``run(policies:options:)`` does and, when `reconcile.fastInterval`
    /// is above zero, starts delta tracking first (so that nothing changed during the read is
    /// missed: the next round holds it) and hands back what the fast path needs.
    public func runSeedingFastPath(policies: PolicySet) async -> (outcome: Outcome, fastPath: FastPathState?) {
        let attributes = PolicyRequirements(policies.policies).attributes
        var links: DeltaLinks?
        let seededAt = now()
        if settings.fastInterval > .zero {
            do {
                links = try await graph.startDelta(attributes: attributes)
            } catch {
                logger.event(
                    .fastPathFallback,
                    level: .warning,
                    "Delta tracking could not start; the fast path waits for the next full cycle",
                    [
                        "reason": .string("\(error)")
                    ]
                )
            }
        }
        let outcome = await run(policies: policies)
        guard let links, let tenant = outcome.tenant, outcome.report.result != .failed else { return (outcome, nil) }
        return (outcome, FastPathState(tenant: tenant, links: links, attributes: attributes, lastRoundAt: seededAt))
    }

    /// One fast pass: follows the delta links, reads the affected users' licenses and the
    /// seats, updates the model in place, and plans and applies those users with the same
    /// planner and rules as a cycle (seats, guard counting the removals of earlier fast passes,
    /// `removalDelay`, group shrink hold against the last cycle's counts, backoff, pacing).
    ///
    /// Any failed read leaves `state` as it was (the same links are followed next pass);
    /// a refused link, or a change only a full read can settle, ends with
    /// ``FastPassReport/Result/fullCycleNeeded``.
    public func runFastPass(policies: PolicySet, state: inout FastPathState) async -> FastPassReport {
        let started = now()
        let clock = ContinuousClock.now
        var report = FastPassReport(
            startedAt: started,
            finishedAt: started,
            result: .nothingChanged,
            usersAffected: 0,
            usersDeleted: 0,
            deltaRequests: 0,
            userReadRequests: 0,
            skuRequests: 0,
            planned: .init(),
            applied: .init(),
            failed: .init()
        )
        do {
            try await fastPass(policies: policies, state: &state, startedAt: started, report: &report)
        } catch let error as GraphReadError where error.reason == .deltaExpired {
            report.result = .fullCycleNeeded
            report.reason = "\(error)"
        } catch {
            report.result = .failed
            report.reason = "\(error)"
        }
        report.finishedAt = now()
        metrics.record(report, duration: ContinuousClock.now - clock)
        switch report.result {
        case .fullCycleNeeded:
            logger.event(
                .fastPathFallback,
                level: .notice,
                "Fast pass needs a full cycle; one starts now",
                ["reason": .string(report.reason ?? "")]
            )
        case .failed:
            logger.event(
                .fastPathFailed,
                level: .warning,
                "Fast pass failed; nothing was changed",
                ["error": .string(report.reason ?? "")]
            )
        case .nothingChanged:
            logger.event(.fastPathFinished, level: .debug, "Fast pass: nothing changed", fastPassSummary(report))
        case .converged, .notConverged, .drifted:
            logger.event(.fastPathFinished, "Fast pass finished: \(report.result.rawValue)", fastPassSummary(report))
        }
        return report
    }

    private func fastPass(
        policies: PolicySet,
        state: inout FastPathState,
        startedAt: Date,
        report: inout FastPassReport
    ) async throws {
        let round = try await graph.followDelta(state.links)
        report.deltaRequests = round.requests
        let effect = state.tenant.effect(of: round.delta)
        if let why = effect.fullReadNeeded {
            report.result = .fullCycleNeeded
            report.reason = why
            return
        }
        guard !effect.affected.isEmpty else {
            // Nothing to plan; deleted users leave the model (their seats show at the next read).
            state.tenant.apply(round.delta)
            state.links = round.links
            state.lastRoundAt = startedAt
            report.usersDeleted = effect.deleted.count
            logDeleted(effect.deleted)
            return
        }
        let ids = effect.affected.keys.sorted()
        let read = try await graph.readUsers(ids, attributes: state.attributes)
        report.userReadRequests = read.requests
        let skus = try await graph.readSubscribedSkus()
        report.skuRequests = 1
        report.usersAffected = ids.count
        report.usersDeleted = effect.deleted.count

        // Every read succeeded: from here on the model changes, in place.
        state.tenant.apply(round.delta)
        state.tenant.update(read.users)
        state.tenant.replaceSubscribedSkus(skus)
        let changedSince = state.lastRoundAt
        state.links = round.links
        state.lastRoundAt = startedAt
        let tenant = state.tenant
        for id in ids {
            let upn = tenant.userIndex(for: id).map(tenant.userPrincipalName(at:)) ?? ""
            logger.event(
                .fastPathChanges,
                "User changed since the last fast pass",
                [
                    "user.id": .string(id.description), "user.upn": .string(upn),
                    "reasons": .array(effect.affected[id]!.map { .string($0.description) }),
                ]
            )
        }
        logDeleted(effect.deleted)

        let compiled: CompiledPolicies
        do {
            // Date conditions as of this pass; a user whose date rule turns true without a directory
            // change is found by the next full cycle (delta reports no passing of time).
            compiled = try CompiledPolicies(
                policies: policies.policies,
                settings: settings,
                tenant: tenant,
                evaluatedAt: Int64(startedAt.timeIntervalSince1970.rounded(.down))
            )
        } catch {
            report.result = .fullCycleNeeded
            report.reason = "the policies no longer fit the tenant: \(error)"
            return
        }
        let planner = Planner(tenant: tenant, policies: compiled, settings: settings)
        var engineState = stateStore.load(now: now(), setAside: true).state
        // Shrinks are measured against the last full cycle's counts, which a fast pass never moves.
        let shrinks = GroupShrinkHold(rule: settings.guardrail, allowMassRemoval: false)
            .evaluate(groups: tenant.groups, counts: tenant.memberCounts, remembered: engineState.groups)
        let seconds = Int64(now().timeIntervalSince1970)
        let users = ids.compactMap { tenant.userIndex(for: $0) }
        let plan = planner.plan(
            options: PlanningOptions(
                removalHistory: engineState.removalHistory,
                now: seconds,
                usersInBackoff: engineState.usersInBackoff(at: seconds),
                shrunkGroups: shrinks.heldGroups,
                onlyUsers: users,
                removalsAlreadySent: state.removalsSinceFullCycle
            )
        )
        let changes = plan.changes
        var cycle = CycleReport(mode: settings.mode.rawValue, startedAt: startedAt, policyRevision: policies.revision)
        cycle.record(plan)
        report.planned = cycle.planned
        // The plan's history covers the planned users only: everyone else's clocks stay as they were.
        let planned = Set(ids)
        engineState.removalHistory.firstSeen = engineState.removalHistory.firstSeen.filter {
            !planned.contains($0.key.user)
        }
        .merging(plan.removalHistory.firstSeen) { $1 }
        if let error = saveState(engineState), settings.removalDelay != .zero { throw error }
        guard settings.mode == .enforce else {
            report.result = plan.summary.usersDrifted == 0 ? .converged : .drifted
            return
        }
        await apply(plan, changes: changes, tenant: tenant, state: &engineState, report: &cycle)
        saveState(engineState)
        state.removalsSinceFullCycle += cycle.applied.removals
        report.applied = cycle.applied
        report.failed = cycle.failed
        let licensedAt = now()
        for _ in 0..<(cycle.applied.adds + cycle.applied.planChanges) {
            metrics.recordChangeToLicense(licensedAt.timeIntervalSince(changedSince))
        }
        report.result = cycle.isConverged(after: plan) ? .converged : .notConverged
    }

    /// `fastpath.changes` for the users a delta reported deleted.
    private func logDeleted(_ deleted: Set<GUID>) {
        for id in deleted.sorted() {
            logger.event(
                .fastPathChanges,
                "User deleted since the last fast pass",
                [
                    "user.id": .string(id.description), "user.upn": "",
                    "reasons": .array([.string(ChangeReason.deleted.description)]),
                ]
            )
        }
    }

    private func fastPassSummary(_ report: FastPassReport) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "result": .string(report.result.rawValue), "users.affected": .stringConvertible(report.usersAffected),
            "users.deleted": .stringConvertible(report.usersDeleted),
            "requests.delta": .stringConvertible(report.deltaRequests),
            "requests.users": .stringConvertible(report.userReadRequests),
            "requests.skus": .stringConvertible(report.skuRequests),
            "duration_seconds": .stringConvertible(report.finishedAt.timeIntervalSince(report.startedAt)),
        ]
        for (name, counts) in [("applied", report.applied), ("failed", report.failed)] {
            metadata["\(name).adds"] = .stringConvertible(counts.adds)
            metadata["\(name).removals"] = .stringConvertible(counts.removals)
        }
        return metadata
    }
}

extension FastPassReport.Result {
    /// The `result` label of `allot_fastpath_total`.
    public var metricLabel: String {
        self == .drifted ? "report" : rawValue
    }
}

extension EngineMetrics {
    /// `allot_fastpath_total{result}`, `allot_fastpath_duration_seconds`, `allot_fastpath_requests_total{kind}`,
    /// `allot_fastpath_users_affected_total`.
    func record(_ report: FastPassReport, duration: Duration) {
        AllotMetric.fastPathTotal.counter(report.result.metricLabel).increment()
        AllotMetric.fastPathDuration.timer().record(duration: duration)
        let requests: [(AllotMetric.FastPathRequestKind, Int)] = [
            (.delta, report.deltaRequests), (.users, report.userReadRequests), (.skus, report.skuRequests),
        ]
        for (kind, count) in requests where count > 0 {
            AllotMetric.fastPathRequestsTotal.counter(kind.rawValue).increment(by: count)
        }
        if report.usersAffected > 0 {
            AllotMetric.fastPathUsersAffectedTotal.counter().increment(by: report.usersAffected)
        }
        for (action, count) in report.applied.byAction where count > 0 {
            AllotMetric.changes(action, .applied).increment(by: count)
        }
        for (action, count) in report.failed.byAction where count > 0 {
            AllotMetric.changes(action, .failed).increment(by: count)
        }
    }

    /// `allot_fastpath_change_to_license_seconds`: from the delta round before the change
    /// (the change happened after it) to the license applied; an upper bound of the latency.
    func recordChangeToLicense(_ seconds: TimeInterval) {
        AllotMetric.fastPathChangeToLicense.timer()
            .record(duration: .milliseconds(Int64(max(0, seconds) * 1000)))
    }
}
