/// What planning needs beyond the tenant, the policies and the settings: the engine's
/// memory of earlier cycles and the operator's overrides. All plain values: the planner
/// reads no clock and no file.
public struct PlanningOptions: Sendable {
    /// `allot apply --allow-mass-removal`: let a cycle that trips the guard remove anyway.
    public var allowMassRemoval: Bool
    /// When each pending removal was first seen (for `removalDelay`).
    public var removalHistory: RemovalHistory
    /// The current time in seconds since the epoch; read only when `removalDelay` is above zero.
    public var now: Int64
    /// Users whose earlier calls failed and who wait for their backoff to pass: left alone.
    public var usersInBackoff: Set<GUID>

    public init(allowMassRemoval: Bool = false, removalHistory: RemovalHistory = RemovalHistory(), now: Int64 = 0, usersInBackoff: Set<GUID> = []) {
        self.allowMassRemoval = allowMassRemoval
        self.removalHistory = removalHistory
        self.now = now
        self.usersInBackoff = usersInBackoff
    }
}

/// The planner: a pure function from (tenant, policies, settings, options) to a ``Plan``.
///
/// It implements the product brief's "Semantics": the union of matching policies, plans
/// merged per SKU, `replaces`, managed SKUs and direct assignments only, one call per user,
/// seats served by priority with deferral, usage locations, the removal delay and the guard.
public struct Planner: Sendable {
    public let tenant: TenantModel
    public let policies: CompiledPolicies
    public let settings: ReconcileSettings
    let matcher: PolicyMatcher

    public init(tenant: TenantModel, policies: CompiledPolicies, settings: ReconcileSettings) {
        self.tenant = tenant
        self.policies = policies
        self.settings = settings
        matcher = PolicyMatcher(policies: policies.compiled, attributeColumns: tenant.columns.paths.count)
    }

    /// Plans one cycle.
    public func plan(options: PlanningOptions = PlanningOptions()) -> Plan {
        var cycle = PlanningCycle(planner: self, options: options)
        return cycle.run()
    }

    func desiredLicenses(matched: [Int]) -> DesiredLicenses {
        DesiredLicenses(matched: matched, compiled: policies.compiled, managedCount: policies.managedSkus.count)
    }
}

/// One run of the planner, with its scratch state.
private struct PlanningCycle {
    let planner: Planner
    let options: PlanningOptions
    var tenant: TenantModel { planner.tenant }
    var managed: [SubscribedSku] { planner.policies.managedSkus }

    var desiredOfNode: [DesiredLicenses?] = []
    var heldOfHolding: [HeldLicenses?] = []
    var policiesOfNode: [[Int]] = []

    init(planner: Planner, options: PlanningOptions) {
        self.planner = planner
        self.options = options
    }

    /// A changed user's working state during seat allocation.
    struct Candidate {
        let user: Int
        let node: Int
        let holding: Int
        var diff: LicenseDiff
        var deferred = SkuMask()
        /// Removals held back by `removalDelay`.
        var delayed = SkuMask()
        /// Whether `diff` predates the latest deferral.
        var stale = false
    }

    /// Brings a candidate's diff up to date with its deferrals.
    mutating func refresh(_ candidate: inout Candidate) {
        guard candidate.stale else { return }
        candidate.diff = LicenseDiff(desired: desired(candidate.node), held: held(candidate.holding), deferred: candidate.deferred)
        candidate.stale = false
    }

    mutating func desired(_ node: Int) -> DesiredLicenses {
        if let cached = desiredOfNode[node] { return cached }
        let desired = planner.desiredLicenses(matched: policiesOfNode[node])
        desiredOfNode[node] = desired
        return desired
    }

    mutating func held(_ holding: Int) -> HeldLicenses {
        if let cached = heldOfHolding[holding] { return cached }
        let held = HeldLicenses(tenant.holdings[holding], policies: planner.policies)
        heldOfHolding[holding] = held
        return held
    }

    mutating func run() -> Plan {
        let match = planner.matcher.matchAll(userCount: tenant.userCount, values: tenant.columns.indices)
        policiesOfNode = match.policiesOfNode
        desiredOfNode = Array(repeating: nil, count: policiesOfNode.count)
        heldOfHolding = Array(repeating: nil, count: tenant.holdings.count)

        // Pass 1: the seat-free difference, computed once per (matched policies, holding) pair.
        var diffOfPair: [UInt64: LicenseDiff] = [:]
        var candidates: [Candidate] = []
        var groupHeld: [(user: Int, skus: SkuMask, node: Int, holding: Int)] = []
        var inScope = 0
        for user in 0..<tenant.userCount {
            let node = Int(match.nodeOfUser[user])
            if node != 0 { inScope += 1 }
            let holding = Int(tenant.holdingOfUser[user])
            let key = UInt64(node) << 32 | UInt64(holding)
            let diff: LicenseDiff
            if let cached = diffOfPair[key] {
                diff = cached
            } else {
                diff = LicenseDiff(desired: desired(node), held: held(holding))
                diffOfPair[key] = diff
            }
            if !diff.heldThroughGroup.isEmpty { groupHeld.append((user, diff.heldThroughGroup, node, holding)) }
            if !diff.isEmpty { candidates.append(Candidate(user: user, node: node, holding: holding, diff: diff)) }
        }

        // Users left alone: in backoff, or needing a license without usage location and no default.
        var skipped: [SkippedUser] = []
        var active: [Candidate] = []
        for candidate in candidates {
            let id = tenant.userID(at: candidate.user)
            if options.usersInBackoff.contains(id) {
                skipped.append(SkippedUser(
                    userId: id, userPrincipalName: tenant.userPrincipalName(at: candidate.user), reason: "backoff",
                    detail: "an earlier call for this user failed; it is retried when its backoff has passed"))
                continue
            }
            let needsUsageLocation = !(candidate.diff.adds | candidate.diff.planChanges).isEmpty
            if needsUsageLocation, tenant.usageLocation(at: candidate.user) == nil, settings.defaultUsageLocation == nil {
                skipped.append(SkippedUser(
                    userId: id, userPrincipalName: tenant.userPrincipalName(at: candidate.user), reason: "noUsageLocation",
                    detail: "needs a license but has no usage location, and reconcile.usageLocation.default is not set"))
                continue
            }
            active.append(candidate)
        }

        // Removal delay: remember when each pending removal was first seen; hold back the young ones.
        var history = RemovalHistory()
        var delayedRemovals: [DelayedRemoval] = []
        let delay = settings.removalDelay.components.seconds
        if delay > 0 {
            for candidate in candidates where !candidate.diff.removals.isEmpty {
                for sku in candidate.diff.removals {
                    let pair = PendingRemoval(user: tenant.userID(at: candidate.user), sku: managed[sku].skuId)
                    history.firstSeen[pair] = options.removalHistory.firstSeen[pair] ?? options.now
                }
            }
            for index in active.indices {
                for sku in active[index].diff.removals {
                    let pair = PendingRemoval(user: tenant.userID(at: active[index].user), sku: managed[sku].skuId)
                    let since = history.firstSeen[pair] ?? options.now
                    if options.now - since < delay {
                        active[index].delayed.insert(sku)
                        delayedRemovals.append(DelayedRemoval(
                            userId: pair.user, userPrincipalName: tenant.userPrincipalName(at: active[index].user),
                            sku: managed[sku].skuPartNumber, skuId: pair.sku, pendingSince: since, removableFrom: since + delay))
                    }
                }
            }
        }

        // The guard counts the direct removals the cycle wants to send.
        let wantedRemovals = active.reduce(0) { $0 + ($1.diff.removals & ~$1.delayed).count }
        let guardrail = guardOutcome(removals: wantedRemovals)
        let removalsBlocked = guardrail.tripped && !guardrail.overridden

        // Seats, SKU by SKU, replacing SKUs before the SKUs they replace: removals free seats
        // first, then adds are served by (priority descending, user id ascending).
        var freedOf = [Int](repeating: 0, count: managed.count)
        var servedOf = [Int](repeating: 0, count: managed.count)
        var deferredOf = [Int](repeating: 0, count: managed.count)
        for sku in planner.policies.replacementOrder {
            var wanting: [(index: Int, priority: Int)] = []
            for index in active.indices {
                refresh(&active[index])
                let diff = active[index].diff
                if diff.adds.contains(sku) { wanting.append((index, desired(active[index].node).priority[sku])) }
                if diff.removals.contains(sku), !removalsBlocked, !active[index].delayed.contains(sku),
                    !held(active[index].holding).group.contains(sku)
                {
                    freedOf[sku] += 1
                }
            }
            wanting.sort { lhs, rhs in
                lhs.priority != rhs.priority ? lhs.priority > rhs.priority : active[lhs.index].user < active[rhs.index].user
            }
            let seats = managed[sku].availableUnits + freedOf[sku]
            for (rank, entry) in wanting.enumerated() {
                if rank < seats {
                    servedOf[sku] += 1
                } else {
                    active[entry.index].deferred.insert(sku)
                    active[entry.index].stale = true
                    deferredOf[sku] += 1
                }
            }
        }

        // The calls.
        var changes: [UserChange] = []
        var deferred: [DeferredAdd] = []
        var counts = (adds: 0, removals: 0, planChanges: 0, usageLocations: 0)
        for index in active.indices {
            refresh(&active[index])
            let candidate = active[index]
            let diff = candidate.diff
            let desired = desired(candidate.node)
            let held = held(candidate.holding)
            for sku in diff.adds & candidate.deferred {
                deferred.append(DeferredAdd(
                    userId: tenant.userID(at: candidate.user), userPrincipalName: tenant.userPrincipalName(at: candidate.user),
                    sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId, priority: desired.priority[sku],
                    policies: policyNames(desired.grantingPolicies[sku]),
                    reason: "no seat left: \(managed[sku].availableUnits) available and \(freedOf[sku]) freed by removals went to adds of higher priority (ties: lower user id)"))
            }
            let adds = diff.adds & ~candidate.deferred
            let removals = removalsBlocked ? SkuMask() : diff.removals & ~candidate.delayed
            guard !(adds | diff.planChanges | removals).isEmpty else { continue }
            let needsLocation = !(adds | diff.planChanges).isEmpty && tenant.usageLocation(at: candidate.user) == nil
            let change = userChange(
                user: candidate.user, desired: desired, held: held, adds: adds, planChanges: diff.planChanges,
                removals: removals, replaced: diff.replaced, setUsageLocation: needsLocation ? settings.defaultUsageLocation : nil)
            counts.adds += adds.count
            counts.removals += removals.count
            counts.planChanges += diff.planChanges.count
            if change.setUsageLocation != nil { counts.usageLocations += 1 }
            changes.append(change)
        }

        let seats = managed.indices.map { sku in
            let consumedAfter = managed[sku].consumedUnits + servedOf[sku] - freedOf[sku]
            return SeatCount(
                sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId, prepaid: managed[sku].prepaidUnits.enabled,
                consumedBefore: managed[sku].consumedUnits, consumedAfter: consumedAfter,
                availableBefore: managed[sku].availableUnits,
                availableAfter: max(0, managed[sku].prepaidUnits.enabled - consumedAfter), deferredAdds: deferredOf[sku])
        }
        let heldThroughGroups = groupHeld.flatMap { entry in
            let held = held(entry.holding)
            return entry.skus.map { sku in
                GroupHeldLicense(
                    userId: tenant.userID(at: entry.user), userPrincipalName: tenant.userPrincipalName(at: entry.user),
                    sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId, groups: held.groups[sku])
            }
        }
        let summary = Plan.Summary(
            usersRead: tenant.userCount, usersInScope: inScope, usersDrifted: candidates.count, usersChanged: changes.count,
            adds: counts.adds, removals: counts.removals, planChanges: counts.planChanges,
            usageLocationUpdates: counts.usageLocations, deferredAdds: deferred.count, skippedUsers: skipped.count,
            delayedRemovals: delayedRemovals.count, heldThroughGroups: heldThroughGroups.count)
        return Plan(
            summary: summary, changes: changes, deferred: deferred, skipped: skipped, delayedRemovals: delayedRemovals,
            heldThroughGroups: heldThroughGroups, guardrail: guardrail, seats: seats, removalHistory: history)
    }

    func guardOutcome(removals: Int) -> GuardOutcome {
        let limits = planner.settings.guardrail
        let assigned = managed.reduce(0) { $0 + $1.consumedUnits }
        let percentLimit = Double(assigned) * limits.maxRemovalPercent / 100
        var reasons: [String] = []
        if removals > limits.maxRemovals { reasons.append("more than maxRemovals (\(limits.maxRemovals))") }
        if Double(removals) > percentLimit {
            reasons.append("more than maxRemovalPercent (\(ScalarValue.number(limits.maxRemovalPercent))% of \(assigned) managed licenses assigned)")
        }
        let tripped = !reasons.isEmpty
        return GuardOutcome(
            tripped: tripped, removals: removals, maxRemovals: limits.maxRemovals, maxRemovalPercent: limits.maxRemovalPercent,
            managedLicensesAssigned: assigned, overridden: tripped && options.allowMassRemoval,
            reason: tripped
                ? "the cycle would remove \(removals) licenses, " + reasons.joined(separator: " and ")
                    + (options.allowMassRemoval ? "; allowed once by --allow-mass-removal" : "; nothing is removed until the policies change or an operator runs `allot apply --allow-mass-removal`")
                : nil)
    }

    var settings: ReconcileSettings { planner.settings }

    func policyNames(_ indices: [Int]) -> [String] { indices.map { planner.policies.policies[$0].name } }

    func planNames(_ ids: [GUID], sku: Int) -> [String] {
        ids.map { id in managed[sku].servicePlans.first { $0.servicePlanId == id }?.servicePlanName ?? id.description }
    }

    func userChange(
        user: Int, desired: DesiredLicenses, held: HeldLicenses, adds: SkuMask, planChanges: SkuMask, removals: SkuMask,
        replaced: SkuMask, setUsageLocation: String?
    ) -> UserChange {
        let addEntries = adds.map { sku in
            LicenseAdd(
                sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId,
                disabledPlans: planNames(desired.disabledPlans[sku], sku: sku), policies: policyNames(desired.grantingPolicies[sku]))
        }
        let planEntries = planChanges.map { sku in
            let before = Set(held.directPlans[sku])
            let after = Set(desired.disabledPlans[sku])
            return PlanChange(
                sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId,
                enable: planNames(before.subtracting(after).sorted(), sku: sku), disable: planNames(after.subtracting(before).sorted(), sku: sku),
                policies: policyNames(desired.grantingPolicies[sku]))
        }
        let removalEntries = removals.map { sku in
            let replacers = desired.granted.filter { desired.replaces[$0].contains(sku) }
            return LicenseRemoval(
                sku: managed[sku].skuPartNumber, skuId: managed[sku].skuId, reason: replaced.contains(sku) ? "replaced" : "notGranted",
                replacedBy: replaced.contains(sku) ? replacers.map { managed[$0].skuPartNumber } : [])
        }
        let licenseCall: AssignLicenseBody? =
            (adds | planChanges | removals).isEmpty
            ? nil
            : AssignLicenseBody(
                addLicenses: (adds | planChanges).map { AssignedLicense(skuId: managed[$0].skuId, disabledPlans: desired.disabledPlans[$0]) }
                    .sorted { $0.skuId < $1.skuId },
                removeLicenses: removals.map { managed[$0].skuId }.sorted())
        return UserChange(
            userId: tenant.userID(at: user), userPrincipalName: tenant.userPrincipalName(at: user), setUsageLocation: setUsageLocation,
            assignLicense: licenseCall, adds: addEntries, planChanges: planEntries, removals: removalEntries,
            policies: policyNames(desired.policies))
    }
}
