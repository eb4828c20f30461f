/// The effect of a policy change on one tenant read, for review before it merges
/// (`allot plan --compare-to`, docs/gitops.md).
///
/// The same tenant is planned twice, with the base policies and with the proposed ones. A part of
/// a proposed change (an add, a plan change, a removal, a usage location) that the base plan makes
/// identically is drift already in the tenant (`cause: drift`); every other part is caused by the
/// proposed policies (`cause: policy`). Changes the base policies would make and the proposed ones
/// no longer make are listed apart (`withdrawn`): a reviewer sees what the change stops as well as
/// what it starts. Pure: no I/O, no clock (the time is in the planning options).
public struct PolicyImpact: Sendable, Encodable {
    public static let formatVersion = 1

    public var summary: Summary
    /// The proposed plan's changes, every part marked with its cause.
    public var changes: [UserChange]
    /// Parts of the base plan's changes that the proposed policies no longer make (cause `policy`).
    public var withdrawn: [UserChange]
    /// Adds the proposed plan defers for seats that the base plan does not.
    public var deferralsCaused: [DeferredAdd]
    /// Seats per managed SKU: now, after the base plan, after the proposed plan.
    public var seats: [SeatImpact]
    public var guardrail: GuardImpact
    /// The proposed plan in full (for held and delayed removals, skipped users, the totals).
    public var proposed: Plan

    /// Plans `tenant` with both policy sets and compares the plans.
    ///
    /// - Parameters:
    ///   - base: the planner for the policies in force (the base branch).
    ///   - proposed: the planner for the policies under review, over the same tenant model.
    public init(base: Planner, proposed: Planner, options: PlanningOptions = PlanningOptions()) {
        self.init(base: base, basePlan: base.plan(options: options), proposedPlan: proposed.plan(options: options))
    }

    init(base: Planner, basePlan: Plan, proposedPlan: Plan) {
        let baseChanges = Dictionary(uniqueKeysWithValues: basePlan.changes.map { ($0.userId, $0) })
        var marked: [UserChange] = []
        var withdrawn: [UserChange] = []
        var seen = Set<GUID>()
        for change in proposedPlan.changes {
            seen.insert(change.userId)
            let before = baseChanges[change.userId]
            marked.append(Self.mark(change, against: before, base: base))
            if let before, let stopped = Self.withdrawnParts(of: before, keptIn: change) { withdrawn.append(stopped) }
        }
        for change in basePlan.changes where !seen.contains(change.userId) {
            if let stopped = Self.withdrawnParts(of: change, keptIn: nil) { withdrawn.append(stopped) }
        }
        let baseDeferred = Set(basePlan.deferred.map { PendingRemoval(user: $0.userId, sku: $0.skuId) })
        let baseSeats = Dictionary(uniqueKeysWithValues: basePlan.seats.map { ($0.skuId, $0) })
        changes = marked
        self.withdrawn = withdrawn
        deferralsCaused = proposedPlan.deferred.filter { !baseDeferred.contains(PendingRemoval(user: $0.userId, sku: $0.skuId)) }
        seats = proposedPlan.seats.map { SeatImpact(base: baseSeats[$0.skuId] ?? $0, proposed: $0) }
        guardrail = GuardImpact(base: basePlan.guardrail, proposed: proposedPlan.guardrail)
        proposed = proposedPlan
        summary = Summary(changes: marked, withdrawn: withdrawn, deferralsCaused: deferralsCaused.count, guardrail: guardrail)
    }

    /// `change` with every part marked `policy` or `drift` by comparing it with the base plan's
    /// change for the same user.
    private static func mark(_ change: UserChange, against before: UserChange?, base: Planner) -> UserChange {
        var change = change
        for index in change.adds.indices {
            let add = change.adds[index]
            let same = before?.adds.contains { $0.skuId == add.skuId && $0.disabledPlans == add.disabledPlans } ?? false
            change.adds[index].cause = same ? .drift : .policy
        }
        for index in change.planChanges.indices {
            let planChange = change.planChanges[index]
            let same = before?.planChanges.contains { $0.skuId == planChange.skuId && $0.enabledPlans == planChange.enabledPlans } ?? false
            change.planChanges[index].cause = same ? .drift : .policy
        }
        for index in change.removals.indices {
            let removal = change.removals[index]
            let same = before?.removals.contains { $0.skuId == removal.skuId } ?? false
            change.removals[index].cause = same ? .drift : .policy
            if !same { change.removals[index].grantedBefore = base.grantingPolicies(user: change.userId, sku: removal.skuId) }
        }
        let locationIsPolicy = change.setUsageLocation != nil && before?.setUsageLocation != change.setUsageLocation
        let anyPolicy =
            locationIsPolicy || change.adds.contains { $0.cause == .policy } || change.planChanges.contains { $0.cause == .policy }
            || change.removals.contains { $0.cause == .policy }
        change.cause = anyPolicy ? .policy : .drift
        return change
    }

    /// The parts of a base change that the proposed change for the same user no longer makes, or
    /// `nil` when it makes them all.
    private static func withdrawnParts(of before: UserChange, keptIn after: UserChange?) -> UserChange? {
        var stopped = before
        stopped.adds = before.adds.filter { add in !(after?.adds.contains { $0.skuId == add.skuId && $0.disabledPlans == add.disabledPlans } ?? false) }
        stopped.planChanges = before.planChanges.filter { change in
            !(after?.planChanges.contains { $0.skuId == change.skuId && $0.enabledPlans == change.enabledPlans } ?? false)
        }
        stopped.removals = before.removals.filter { removal in !(after?.removals.contains { $0.skuId == removal.skuId } ?? false) }
        if after?.setUsageLocation == before.setUsageLocation { stopped.setUsageLocation = nil }
        guard !stopped.adds.isEmpty || !stopped.planChanges.isEmpty || !stopped.removals.isEmpty || stopped.setUsageLocation != nil else {
            return nil
        }
        stopped.assignLicense = nil
        stopped.cause = .policy
        for index in stopped.adds.indices { stopped.adds[index].cause = .policy }
        for index in stopped.planChanges.indices { stopped.planChanges[index].cause = .policy }
        for index in stopped.removals.indices { stopped.removals[index].cause = .policy }
        return stopped
    }

    private enum CodingKeys: String, CodingKey {
        case version, summary, changes, withdrawn, deferralsCaused, seats, proposed
        case guardrail = "guard"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.formatVersion, forKey: .version)
        try container.encode(summary, forKey: .summary)
        try container.encode(changes, forKey: .changes)
        try container.encode(withdrawn, forKey: .withdrawn)
        try container.encode(deferralsCaused, forKey: .deferralsCaused)
        try container.encode(seats, forKey: .seats)
        try container.encode(guardrail, forKey: .guardrail)
        try container.encode(proposed.summary, forKey: .proposed)
    }

    /// The totals of an impact, split by cause.
    public struct Summary: Sendable, Hashable, Codable {
        /// Users with at least one part the proposed policies cause.
        public var usersChangedByPolicy: Int
        public var addsByPolicy: Int
        public var removalsByPolicy: Int
        public var planChangesByPolicy: Int
        /// Users with at least one part that is drift (planned with either policy set).
        public var usersWithDrift: Int
        public var driftAdds: Int
        public var driftRemovals: Int
        public var driftPlanChanges: Int
        /// Users for whom the proposed policies withdraw a change the base policies would make.
        public var usersWithdrawn: Int
        public var deferralsCaused: Int
        /// Whether the guard trips with the proposed policies and not with the base ones.
        public var guardTrippedByChange: Bool

        init(changes: [UserChange], withdrawn: [UserChange], deferralsCaused: Int, guardrail: GuardImpact) {
            func count(_ cause: ChangeCause) -> (users: Int, adds: Int, removals: Int, planChanges: Int) {
                var totals = (users: 0, adds: 0, removals: 0, planChanges: 0)
                for change in changes {
                    let adds = change.adds.count(where: { $0.cause == cause })
                    let removals = change.removals.count(where: { $0.cause == cause })
                    let planChanges = change.planChanges.count(where: { $0.cause == cause })
                    let location = cause == .policy && change.cause == .policy && adds + removals + planChanges == 0
                    if adds + removals + planChanges > 0 || location { totals.users += 1 }
                    totals.adds += adds
                    totals.removals += removals
                    totals.planChanges += planChanges
                }
                return totals
            }
            let policy = count(.policy)
            let drift = count(.drift)
            usersChangedByPolicy = policy.users
            addsByPolicy = policy.adds
            removalsByPolicy = policy.removals
            planChangesByPolicy = policy.planChanges
            usersWithDrift = drift.users
            driftAdds = drift.adds
            driftRemovals = drift.removals
            driftPlanChanges = drift.planChanges
            usersWithdrawn = withdrawn.count
            self.deferralsCaused = deferralsCaused
            guardTrippedByChange = guardrail.proposed.tripped && !guardrail.base.tripped
        }
    }
}

/// Seats of one managed SKU with either policy set.
public struct SeatImpact: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var prepaid: Int
    /// Available at the read.
    public var availableNow: Int
    public var availableAfterBase: Int
    public var availableAfterProposed: Int
    public var deferredBase: Int
    public var deferredProposed: Int

    init(base: SeatCount, proposed: SeatCount) {
        sku = proposed.sku
        skuId = proposed.skuId
        prepaid = proposed.prepaid
        availableNow = proposed.availableBefore
        availableAfterBase = base.availableAfter
        availableAfterProposed = proposed.availableAfter
        deferredBase = base.deferredAdds
        deferredProposed = proposed.deferredAdds
    }
}

/// What the mass-removal guard decides with either policy set.
public struct GuardImpact: Sendable, Hashable, Codable {
    public var base: GuardOutcome
    public var proposed: GuardOutcome
}

extension Planner {
    /// The names of the policies that grant `sku` to `user` (object id), in policy order.
    func grantingPolicies(user: GUID, sku: GUID) -> [String] {
        guard let index = tenant.userIndex(for: user),
            let managed = policies.managedSkus.firstIndex(where: { $0.skuId == sku })
        else { return [] }
        return attribution(user: index).granting[managed].map { policies.policies[$0].name }
    }
}
