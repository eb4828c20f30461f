import AllotCore
import AllotGraph
import AllotObservability
import Foundation
import Logging

/// One reconcile cycle against a live tenant: read, plan, apply, report.
///
/// Safe by construction: any failed or incomplete read, or policies that do not fit the
/// tenant, end the cycle before anything is written; the planner's guard, seat allocation,
/// removal delay and group shrink hold decide what may be written; calls go out in seat waves (a call only once the
/// seats it needs are free, counting the seats freed by calls already answered), so Graph
/// refuses none for lack of a seat; a failing user is isolated, logged with Graph's code and
/// message, and retried after a growing backoff when the failure is the user's (not for a
/// seat someone else took, a user deleted since the read, a policy conflict, or a missing
/// permission, which stops the cycle's writes).
public final class ReconcileEngine: Sendable {
    /// What a cycle may do beyond the reconcile settings.
    public struct Options: Sendable {
        /// `--allow-mass-removal`: let a cycle that trips the guard remove anyway (this cycle only).
        public var allowMassRemoval: Bool
        /// Leave users whose earlier calls failed alone until their backoff passes (the daemon
        /// does; an operator's `allot apply` retries everyone).
        public var honourBackoff: Bool
        /// Write nothing, whatever the mode, not even the state file (`allot plan`).
        public var planOnly: Bool
        /// `allot apply FILE`: send only this saved plan's changes, each only while its user's
        /// state and plan are as saved (``SavedPlan/applicable(fresh:tenant:)``). The caller has
        /// checked the plan as a whole (``SavedPlan/refusal(digest:policyRevision:configurationRevision:now:maxAge:)``).
        public var savedPlan: SavedPlan?
        /// `allot plan --at`: evaluate the policies' date conditions as of this moment instead of
        /// the cycle's start (the removal delay and backoff still count real time).
        public var evaluateAt: Date?

        public init(
            allowMassRemoval: Bool = false,
            honourBackoff: Bool = true,
            planOnly: Bool = false,
            savedPlan: SavedPlan? = nil,
            evaluateAt: Date? = nil
        ) {
            self.allowMassRemoval = allowMassRemoval
            self.honourBackoff = honourBackoff
            self.planOnly = planOnly
            self.savedPlan = savedPlan
            self.evaluateAt = evaluateAt
        }
    }

    /// A cycle's outcome: its report, and the plan when one was made.
    public struct Outcome: Sendable {
        public var report: CycleReport
        public var plan: Plan?
        /// The tenant model the plan was made from (the fast path keeps it and updates it in place).
        public var tenant: TenantModel?
    }

    /// `reconcile:` of `allot.yaml`: the mode, managed SKUs, guard and removal delay.
    public let settings: ReconcileSettings
    let graph: GraphClient
    let stateStore: StateStore
    let logger: Logger
    let metrics: EngineMetrics
    let progress: ProgressReporter
    let now: @Sendable () -> Date

    public init(
        settings: ReconcileSettings,
        graph: GraphClient,
        stateStore: StateStore,
        logger: Logger,
        progress: ProgressReporter = .silent,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.settings = settings
        self.graph = graph
        self.stateStore = stateStore
        self.logger = logger
        self.metrics = EngineMetrics()
        self.progress = progress
        self.now = now
    }

    /// Runs one cycle with these policies.
    public func run(policies: PolicySet, options: Options = Options()) async -> Outcome {
        let writes = !options.planOnly && settings.mode == .enforce
        let mode = options.planOnly ? "plan" : settings.mode.rawValue
        var report = CycleReport(mode: mode, startedAt: now(), policyRevision: policies.revision)
        logger.event(
            .cycleStarted,
            "Cycle started",
            ["mode": .string(mode), "policy.revision": .string(policies.revision)]
        )
        let clock = ContinuousClock.now
        var plan: Plan?
        var tenant: TenantModel?
        do {
            (plan, tenant) = try await cycle(policies: policies, options: options, writes: writes, report: &report)
        } catch {
            report.result = .failed
            report.error = "\(error)"
            logger.event(
                .cycleFailed,
                level: .error,
                "Cycle failed; nothing was written",
                ["error": .string("\(error)")]
            )
        }
        report.finishedAt = now()
        metrics.record(report, duration: ContinuousClock.now - clock)
        logger.event(
            .cycleFinished,
            level: report.result == .failed ? .error : .info,
            "Cycle finished: \(report.result.rawValue)",
            summary(report)
        )
        return Outcome(report: report, plan: plan, tenant: tenant)
    }

    /// Read, plan, apply; throws only before the first write.
    private func cycle(
        policies: PolicySet,
        options: Options,
        writes: Bool,
        report: inout CycleReport
    ) async throws -> (Plan, TenantModel) {
        // Date conditions hold as of the cycle's start, or `--at`.
        var planning = options
        planning.evaluateAt = options.evaluateAt ?? report.startedAt
        let prepared = try await Self.plan(
            policies: policies.policies,
            tenant: .live(graph, progress: progress),
            settings: settings,
            state: stateStore,
            options: planning,
            now: now
        )
        let tenant = prepared.tenant
        if let recovery = prepared.state.recovery {
            logger.event(.stateRecovered, level: .warning, "State file recovered", ["reason": .string(recovery)])
        }
        var state = prepared.state.state
        let shrinks = prepared.shrinks
        report.shrunkGroups = shrinks.shrinks
        logShrinks(shrinks.shrinks)
        let plan = prepared.plan()
        var changes = plan.changes
        report.record(plan)
        if !options.planOnly { logDrift(plan, changes: changes) }
        if let saved = options.savedPlan {
            changes = savedChanges(saved, fresh: changes, tenant: tenant, report: &report)
        }
        state.removalHistory = plan.removalHistory
        state.groups = shrinks.remembered
        // Read and planned: the cycle cannot fail any more (`allot_last_success_timestamp_seconds`).
        state.lastSuccessAt = Int64(now().timeIntervalSince1970)
        // `allot plan` is read-only; `mode: report` keeps the removal clocks running. Without
        // the state file removal delays cannot be kept: then nothing is written.
        if !options.planOnly, let error = saveState(state), settings.removalDelay != .zero { throw error }

        guard writes else {
            report.result = plan.summary.usersDrifted == 0 ? .converged : .drifted
            return (plan, tenant)
        }
        await apply(plan, changes: changes, tenant: tenant, state: &state, report: &report)
        // The removal clocks were saved before the writes: failing now loses only the per-user backoff.
        saveState(state)
        report.result = report.isConverged(after: plan) ? .converged : .notConverged
        return (plan, tenant)
    }

    /// The saved plan's changes that may be sent now; the others are logged (`plan.stale`) and counted.
    private func savedChanges(
        _ saved: SavedPlan,
        fresh: [UserChange],
        tenant: TenantModel,
        report: inout CycleReport
    ) -> [UserChange] {
        let (send, stale) = saved.applicable(fresh: fresh, tenant: tenant)
        report.staleUsers = stale.count
        for user in stale {
            let why =
                switch user.reason {
                case .licensesChanged: "their licenses or usage location changed since the plan was made"
                case .plannedDifferently:
                    "the current plan for them differs from the saved one (seats, the guard or a removal delay)"
                case .deleted: "the user no longer exists"
                }
            logger.event(
                .planStale,
                level: .warning,
                "Saved change for \(user.userPrincipalName) not sent: \(why)",
                [
                    "user.id": .string(user.userId.description), "user.upn": .string(user.userPrincipalName),
                    "reason": .string(user.reason.rawValue),
                ]
            )
        }
        return send
    }

    /// Writes the state file; a failure is logged (`state.save_failed`) and returned.
    @discardableResult
    func saveState(_ state: EngineState) -> (any Error)? {
        do {
            try stateStore.save(state)
            return nil
        } catch {
            logger.event(
                .stateSaveFailed,
                level: .warning,
                "Could not save the state file",
                ["error": .string("\(error)")]
            )
            return error
        }
    }

    /// Sends the plan's calls in seat waves (``ApplySchedule``), each wave in full batches,
    /// with progress after every batch, recording every outcome.
    func apply(
        _ plan: Plan,
        changes: [UserChange],
        tenant: TenantModel,
        state: inout EngineState,
        report: inout CycleReport
    ) async {
        var schedule = ApplySchedule(changes: changes, seats: plan.seats)
        var conflicts = PolicyConflicts(skus: tenant.subscribedSkus)
        let users = Dictionary(changes.map { ($0.userId, $0) }) { first, _ in first }
        let totalWrites = changes.reduce(0) {
            $0 + ($1.setUsageLocation == nil ? 0 : 1) + ($1.assignLicense == nil ? 0 : 1)
        }
        var done = 0
        var stopped = false
        while !stopped {
            let wave = schedule.nextWave()
            guard !wave.calls.isEmpty else { break }
            let before = done
            let progress = progress
            let results = await graph.apply(wave.writes) { finished in
                progress.applying(phase: "license changes", done: before + finished, total: totalWrites)
            }
            done += results.count
            schedule.record(results, for: wave.calls)
            let seconds = Int64(now().timeIntervalSince1970)
            for result in results {
                record(result, change: users[result.write.user], tenant: tenant, conflicts: &conflicts, report: &report)
                switch result.outcome {
                case .applied:
                    state.record(user: result.write.user, failedWith: nil, at: seconds)
                case .failed(let error) where Self.backsOff(error.kind):
                    state.record(user: result.write.user, failedWith: error.code ?? error.kind.description, at: seconds)
                case .failed, .notSent:
                    break
                }
                if case .notSent = result.outcome { stopped = true }
            }
            if Task.isCancelled || report.writesRefused != nil { stopped = true }
        }
        progress.finish()
        if stopped {
            // Stopped (SIGTERM, or a missing permission): what was not sent goes next cycle.
            for call in schedule.unsent {
                report.notSent +=
                    (changes[call].setUsageLocation == nil ? 0 : 1) + (changes[call].assignLicense == nil ? 0 : 1)
            }
        } else {
            for blocked in schedule.blocked() { reportBlocked(blocked, report: &report) }
        }
        report.policyConflicts = conflicts.conflicts
        for conflict in conflicts.conflicts {
            logger.event(
                .policyConflict,
                level: .error,
                "Graph refuses what policy \(conflict.policy) asks for \(conflict.sku): \(conflict.message)",
                [
                    "policy": .string(conflict.policy), "sku": .string(conflict.sku),
                    "conflicting_sku": .string(conflict.conflictingSku ?? ""),
                    "kind": .string(conflict.kind),
                    "plans": .array(conflict.plans.map { .string($0) }), "users": .stringConvertible(conflict.users),
                    "example_user": .string(conflict.exampleUser), "graph.message": .string(conflict.message),
                ]
            )
        }
    }

    /// Whether a failure backs the user off: not when it is not the user's doing (a seat taken
    /// since the read, a user deleted since the read, a removal already made, a policy
    /// conflict, a missing permission) nor for the license call whose PATCH failed (the PATCH's
    /// own failure decides).
    static func backsOff(_ kind: GraphWriteError.Kind) -> Bool {
        ![.noSeats, .licenseNotHeld, .userGone, .permissionDenied, .dependency, .mutuallyExclusive, .dependencyFailed]
            .contains(kind)
    }

    /// `seats.short` for a call whose seat never came free this cycle; it goes next cycle.
    private func reportBlocked(_ blocked: ApplySchedule.Blocked, report: inout CycleReport) {
        let change = blocked.change
        report.deferredAdds += change.adds.count
        let names = blocked.missing.map { sku in change.adds.first { $0.skuId == sku }?.sku ?? sku.description }
        let culprits = blocked.failedFreeing.map {
            $0.userPrincipalName.isEmpty ? $0.userId.description : $0.userPrincipalName
        }
        let why =
            culprits.isEmpty
            ? "Graph answered that no seat was left (taken since the read)"
            : "the call that was to free it (\(culprits.joined(separator: ", "))) failed"
        logger.event(
            .seatsShort,
            level: .warning,
            "Call for \(change.userPrincipalName) not sent: no seat of \(names.joined(separator: ", ")); \(why)",
            [
                "user.id": .string(change.userId.description), "user.upn": .string(change.userPrincipalName),
                "sku": .string(names.joined(separator: ",")), "waited_for": .array(culprits.map { .string($0) }),
            ]
        )
    }

    private func record(
        _ result: GraphWriteResult,
        change: UserChange?,
        tenant: TenantModel,
        conflicts: inout PolicyConflicts,
        report: inout CycleReport
    ) {
        let upn = change?.userPrincipalName ?? ""
        var counts = CycleReport.Counts()
        switch result.write {
        case .setUsageLocation: counts.usageLocations = 1
        case .assignLicense(_, let body):
            let adds = Set(body.addLicenses.map(\.skuId))
            counts.planChanges = change?.planChanges.filter { adds.contains($0.skuId) }.count ?? 0
            counts.adds = body.addLicenses.count - counts.planChanges
            counts.removals = body.removeLicenses.count
        }
        switch result.outcome {
        case .applied:
            report.applied.add(counts)
            switch result.write {
            case .setUsageLocation(let user, let code):
                logger.event(
                    .usageLocationSet,
                    "Usage location set",
                    [
                        "user.id": .string(user.description), "user.upn": .string(upn), "usage_location": .string(code),
                    ]
                )
            case .assignLicense(let user, let body):
                let sent = Set(body.addLicenses.map(\.skuId))
                let removed = Set(body.removeLicenses)
                logger.event(
                    .licenseApplied,
                    "Licenses changed",
                    [
                        "user.id": .string(user.description), "user.upn": .string(upn),
                        "adds": .array((change?.adds ?? []).filter { sent.contains($0.skuId) }.map { .string($0.sku) }),
                        "removals": .array(
                            (change?.removals ?? []).filter { removed.contains($0.skuId) }.map { .string($0.sku) }
                        ),
                        "plan_changes": .array(
                            (change?.planChanges ?? []).filter { sent.contains($0.skuId) }.map { .string($0.sku) }
                        ),
                    ]
                )
            }
        case .failed(let error) where error.kind == .userGone:
            report.usersGone += 1
            logger.event(
                .userGone,
                "User deleted since the read; left alone",
                [
                    "user.id": .string(error.user.description), "user.upn": .string(upn),
                    "operation": .string(error.operation),
                ]
            )
        case .failed(let error) where PolicyConflicts.isConflict(error) && change != nil:
            let held =
                tenant.userIndex(for: error.user).map {
                    tenant.licenseHolding(ofUser: $0).assignedLicenses.map(\.skuId)
                } ?? []
            conflicts.record(error, change: change!, held: held)
        case .failed(let error) where error.kind == .noSeats:
            // Someone took the seat since the read: not this user's failure; the next cycle recounts.
            report.deferredAdds += counts.adds
            let skus = (change?.adds ?? []).map(\.sku).joined(separator: ",")
            logger.event(
                .seatsShort,
                level: .warning,
                "Graph refused \(upn)'s call: no seat left (taken since the read)",
                [
                    "user.id": .string(error.user.description), "user.upn": .string(upn), "sku": .string(skus),
                    "waited_for": .array([]), "graph.message": .string(error.message),
                ]
            )
        case .failed(let error) where error.kind == .permissionDenied:
            report.failed.add(counts)
            guard report.writesRefused == nil else { return }
            let permission = result.write.isUsageLocation ? "User.ReadWrite.All" : "LicenseAssignment.ReadWrite.All"
            let reason =
                "Graph refused \(error.operation) (403 \(error.code ?? "")): the application lacks the \(permission) permission "
                + "(application permission, with admin consent; deploy/app-registration.md); no more writes this cycle"
            report.writesRefused = reason
            report.error = reason
            logger.event(
                .permissionDenied,
                level: .error,
                "\(reason)",
                [
                    "operation": .string(error.operation), "permission": .string(permission),
                    "graph.status": .stringConvertible(error.status ?? 403),
                    "graph.code": .string(error.code ?? "none"), "graph.message": .string(error.message),
                    "client_request_id": .string(error.clientRequestId ?? "none"),
                ]
            )
        case .failed(let error):
            report.failed.add(counts)
            if report.failures.count < CycleReport.maximumFailuresKept {
                report.failures.append(
                    CycleReport.Failure(
                        userId: error.user,
                        userPrincipalName: upn,
                        operation: error.operation,
                        kind: error.kind.description,
                        status: error.status,
                        code: error.code,
                        message: error.message
                    )
                )
            }
            var fields: Logger.Metadata = [
                "user.id": .string(error.user.description), "user.upn": .string(upn),
                "operation": .string(error.operation),
                "kind": .string(error.kind.description), "graph.code": .string(error.code ?? "none"),
                "graph.message": .string(error.message),
                "client_request_id": .string(error.clientRequestId ?? "none"),
            ]
            // An integer, or absent when no response came back (a string here would break numeric alert rules).
            if let status = error.status { fields["graph.status"] = .stringConvertible(status) }
            logger.event(
                .licenseFailed,
                level: .error,
                "Graph refused a change for \(upn.isEmpty ? error.user.description : upn)",
                fields
            )
        case .notSent:
            report.notSent += 1
        }
    }

    /// `drift.detected` for every drifted user, `seats.short` per short SKU, `guard.tripped`.
    private func logDrift(_ plan: Plan, changes: [UserChange]) {
        for change in changes {
            logger.event(
                .driftDetected,
                "Licenses differ from the policies",
                [
                    "user.id": .string(change.userId.description), "user.upn": .string(change.userPrincipalName),
                    "adds": .array(change.adds.map { .string($0.sku) }),
                    "removals": .array(change.removals.map { .string($0.sku) }),
                    "plan_changes": .array(change.planChanges.map { .string($0.sku) }),
                    "policies": .array(change.policies.map { .string($0) }),
                    "usage_location": .string(change.setUsageLocation ?? ""),
                ]
            )
        }
        let changed = Set(changes.map(\.userId))
        var others: [GUID: (upn: String, adds: [String], removals: [String], policies: [String])] = [:]
        for add in plan.deferred where !changed.contains(add.userId) {
            others[add.userId, default: (add.userPrincipalName, [], [], [])].adds.append(add.sku)
            others[add.userId]!.policies += add.policies.filter { !others[add.userId]!.policies.contains($0) }
        }
        for removal in plan.delayedRemovals where !changed.contains(removal.userId) {
            others[removal.userId, default: (removal.userPrincipalName, [], [], [])].removals.append(removal.sku)
        }
        for user in plan.skipped where !changed.contains(user.userId) && others[user.userId] == nil {
            others[user.userId] = (user.userPrincipalName, [], [], [])
        }
        // The same fields as above, so that alert rules can rely on every one being there.
        for (user, drift) in others.sorted(by: { $0.key < $1.key }) {
            logger.event(
                .driftDetected,
                "Licenses differ from the policies (not changed this cycle)",
                [
                    "user.id": .string(user.description), "user.upn": .string(drift.upn),
                    "adds": .array(drift.adds.map { .string($0) }),
                    "removals": .array(drift.removals.map { .string($0) }), "plan_changes": .array([]),
                    "policies": .array(drift.policies.map { .string($0) }), "usage_location": "",
                ]
            )
        }
        for seat in plan.seats where seat.deferredAdds > 0 {
            logger.event(
                .seatsShort,
                level: .warning,
                "Not enough seats: \(seat.deferredAdds) adds of \(seat.sku) deferred",
                [
                    "sku": .string(seat.sku), "deferred": .stringConvertible(seat.deferredAdds),
                    "available": .stringConvertible(seat.availableBefore),
                ]
            )
        }
        for user in plan.skipped {
            logger.event(
                .usersSkipped,
                level: .warning,
                "User left alone this cycle",
                [
                    "user.id": .string(user.userId.description), "user.upn": .string(user.userPrincipalName),
                    "reason": .string(user.reason.rawValue),
                ]
            )
        }
        if plan.guardrail.tripped {
            logger.event(
                .guardTripped,
                level: plan.guardrail.overridden ? .warning : .critical,
                "Removal guard tripped",
                [
                    "removals": .stringConvertible(plan.guardrail.removals),
                    "overridden": .stringConvertible(plan.guardrail.overridden),
                    "reason": .string(plan.guardrail.reason ?? ""),
                ]
            )
        }
    }

    /// `group.shrunk` for every referenced group whose smaller count this cycle read.
    private func logShrinks(_ shrinks: [CycleReport.GroupShrink]) {
        for shrink in shrinks {
            let what = "Group '\(shrink.displayName)' shrank from \(shrink.usersBefore) to \(shrink.usersNow) users"
            let verdict =
                shrink.held
                ? "the removals it causes are held until the smaller count is read again next cycle, or an operator runs `allot apply --allow-mass-removal`"
                : shrink.overridden
                    ? "released by --allow-mass-removal"
                    : "read in \(shrink.cyclesSeen) cycles in a row: released, the removals go"
            logger.event(
                .groupShrunk,
                level: .warning,
                "\(what); \(verdict)",
                [
                    "group.id": .string(shrink.groupId.description), "group.name": .string(shrink.displayName),
                    "users_before": .stringConvertible(shrink.usersBefore),
                    "users_now": .stringConvertible(shrink.usersNow),
                    "cycles_seen": .stringConvertible(shrink.cyclesSeen), "held": .stringConvertible(shrink.held),
                    "overridden": .stringConvertible(shrink.overridden),
                ]
            )
        }
    }

    private func summary(_ report: CycleReport) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "result": .string(report.result.rawValue), "duration_seconds": .stringConvertible(report.durationSeconds),
            "users.read": .stringConvertible(report.usersRead),
            "users.in_scope": .stringConvertible(report.usersInScope),
            "users.drifted": .stringConvertible(report.usersDrifted),
            "deferred": .stringConvertible(report.deferredAdds),
            "skipped": .stringConvertible(report.skippedUsers), "not_sent": .stringConvertible(report.notSent),
            "guard.tripped": .stringConvertible(report.guardrail?.tripped ?? false),
        ]
        for (name, counts) in [("planned", report.planned), ("applied", report.applied), ("failed", report.failed)] {
            metadata["\(name).adds"] = .stringConvertible(counts.adds)
            metadata["\(name).removals"] = .stringConvertible(counts.removals)
            metadata["\(name).plan_changes"] = .stringConvertible(counts.planChanges)
            metadata["\(name).usage_locations"] = .stringConvertible(counts.usageLocations)
        }
        if let error = report.error { metadata["error"] = .string(error) }
        return metadata
    }
}

extension CycleReport {
    /// Takes the plan's totals.
    mutating func record(_ plan: Plan) {
        usersRead = plan.summary.usersRead
        usersInScope = plan.summary.usersInScope
        usersDrifted = plan.summary.usersDrifted
        planned.adds = plan.summary.adds
        planned.removals = plan.summary.removals
        planned.planChanges = plan.summary.planChanges
        planned.usageLocations = plan.summary.usageLocationUpdates
        deferredAdds = plan.summary.deferredAdds
        skippedUsers = plan.summary.skippedUsers
        delayedRemovals = plan.summary.delayedRemovals
        heldRemovals = plan.summary.heldRemovals
        guardrail = plan.guardrail
        seats = plan.seats
        cost = plan.cost
    }
}

extension CycleReport {
    /// Whether the writes left nothing to do: no failure, deferral, skipped user, delayed or
    /// held removal, unsent write or policy conflict, and a guard that did not hold removals.
    func isConverged(after plan: Plan) -> Bool {
        let leftOver =
            failed.total + deferredAdds + skippedUsers + delayedRemovals + heldRemovals + notSent + staleUsers
            + policyConflicts.reduce(0) { $0 + $1.users }
        return leftOver == 0 && !plan.guardrail.holdsRemovals && writesRefused == nil
    }
}

extension CycleReport.Counts {
    mutating func add(_ other: CycleReport.Counts) {
        adds += other.adds
        removals += other.removals
        planChanges += other.planChanges
        usageLocations += other.usageLocations
    }
}
