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
    /// The monthly cost of the priced managed SKUs (`prices:`): now, after either plan.
    public var cost: CostImpact
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
        // The base plan is compared by ids, not named: naming every change costs more than planning.
        let details = basePlan.details
        var baseRecords: [GUID: Int] = [:]
        baseRecords.reserveCapacity(details.changeRecords.count)
        for (index, record) in details.changeRecords.enumerated() {
            baseRecords[base.tenant.userID(at: Int(record.user))] = index
        }
        var marked: [UserChange] = []
        var withdrawn: [UserChange] = []
        var seen = Set<GUID>()
        for change in proposedPlan.changes {
            seen.insert(change.userId)
            let record = baseRecords[change.userId]
            let key = record.map { details.changeKey(details.changeRecords[$0]) }
            marked.append(Self.mark(change, against: key, base: base))
            if let record, let key, Self.withdrawsParts(key, keptIn: change) {
                if let stopped = Self.withdrawnParts(
                    of: details.userChange(details.changeRecords[record]),
                    keptIn: change
                ) {
                    withdrawn.append(stopped)
                }
            }
        }
        for (userId, record) in baseRecords where !seen.contains(userId) {
            if let stopped = Self.withdrawnParts(of: details.userChange(details.changeRecords[record]), keptIn: nil) {
                withdrawn.append(stopped)
            }
        }
        withdrawn.sort { $0.userId < $1.userId }
        let baseDeferred = Set(basePlan.deferred.map { PendingRemoval(user: $0.userId, sku: $0.skuId) })
        let baseSeats = Dictionary(uniqueKeysWithValues: basePlan.seats.map { ($0.skuId, $0) })
        changes = marked
        self.withdrawn = withdrawn
        deferralsCaused = proposedPlan.deferred.filter {
            !baseDeferred.contains(PendingRemoval(user: $0.userId, sku: $0.skuId))
        }
        seats = proposedPlan.seats.map { SeatImpact(base: baseSeats[$0.skuId] ?? $0, proposed: $0) }
        cost = CostImpact(base: basePlan.cost, proposed: proposedPlan.cost)
        guardrail = GuardImpact(base: basePlan.guardrail, proposed: proposedPlan.guardrail)
        proposed = proposedPlan
        summary = Summary(
            changes: marked,
            withdrawn: withdrawn,
            deferralsCaused: deferralsCaused.count,
            guardrail: guardrail
        )
    }

    /// The disabled plans a change sends for a SKU (sorted), from its `assignLicense` body.
    private static func sentPlans(_ change: UserChange, sku: GUID) -> [GUID]? {
        change.assignLicense?.addLicenses.first { $0.skuId == sku }?.disabledPlans
    }

    /// `change` with every part marked `policy` or `drift` by comparing it with the base plan's
    /// change for the same user.
    private static func mark(_ change: UserChange, against before: PlanDetails.ChangeKey?, base: Planner) -> UserChange
    {
        var change = change
        for index in change.adds.indices {
            let sku = change.adds[index].skuId
            let same = before?.adds[sku].map { $0 == sentPlans(change, sku: sku) } ?? false
            change.adds[index].cause = same ? .drift : .policy
        }
        for index in change.planChanges.indices {
            let sku = change.planChanges[index].skuId
            let same = before?.planChanges[sku].map { $0 == sentPlans(change, sku: sku) } ?? false
            change.planChanges[index].cause = same ? .drift : .policy
        }
        for index in change.removals.indices {
            let sku = change.removals[index].skuId
            let same = before?.removals.contains(sku) ?? false
            change.removals[index].cause = same ? .drift : .policy
            if !same { change.removals[index].grantedBefore = base.grantingPolicies(user: change.userId, sku: sku) }
        }
        let locationIsPolicy = change.setUsageLocation != nil && before?.setsUsageLocation != true
        let anyPolicy =
            locationIsPolicy || change.adds.contains { $0.cause == .policy }
            || change.planChanges.contains { $0.cause == .policy }
            || change.removals.contains { $0.cause == .policy }
        change.cause = anyPolicy ? .policy : .drift
        return change
    }

    /// Whether the base change makes a part that `after` does not (then it is named and listed).
    private static func withdrawsParts(_ before: PlanDetails.ChangeKey, keptIn after: UserChange) -> Bool {
        before.adds.contains { sku, plans in
            sentPlans(after, sku: sku) != plans || !after.adds.contains { $0.skuId == sku }
        }
            || before.planChanges.contains { sku, plans in
                sentPlans(after, sku: sku) != plans || !after.planChanges.contains { $0.skuId == sku }
            }
            || before.removals.contains { sku in !after.removals.contains { $0.skuId == sku } }
            || (before.setsUsageLocation && after.setUsageLocation == nil)
    }

    /// The parts of a base change that the proposed change for the same user no longer makes, or
    /// `nil` when it makes them all.
    private static func withdrawnParts(of before: UserChange, keptIn after: UserChange?) -> UserChange? {
        var stopped = before
        stopped.adds = before.adds.filter { add in
            !(after.map { after in
                after.adds.contains { $0.skuId == add.skuId }
                    && sentPlans(after, sku: add.skuId) == sentPlans(before, sku: add.skuId)
            } ?? false)
        }
        stopped.planChanges = before.planChanges.filter { change in
            !(after.map { after in
                after.planChanges.contains { $0.skuId == change.skuId }
                    && sentPlans(after, sku: change.skuId) == sentPlans(before, sku: change.skuId)
            } ?? false)
        }
        stopped.removals = before.removals.filter { removal in
            !(after?.removals.contains { $0.skuId == removal.skuId } ?? false)
        }
        if after?.setUsageLocation == before.setUsageLocation { stopped.setUsageLocation = nil }
        guard
            !stopped.adds.isEmpty || !stopped.planChanges.isEmpty || !stopped.removals.isEmpty
                || stopped.setUsageLocation != nil
        else {
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
        case version, summary, changes, withdrawn, deferralsCaused, seats, cost, proposed
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
        try container.encode(cost, forKey: .cost)
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

/// The monthly cost of the priced managed SKUs with either policy set: what a policy change
/// costs or saves, for review (both plans price the same tenant read with the same prices).
public struct CostImpact: Sendable, Hashable, Codable {
    /// Per priced managed SKU.
    public var skus: [Entry]
    /// Per currency (sorted): the sums over ``skus``.
    public var totals: [Entry]

    /// One SKU's, or one currency's, monthly cost now and after either plan.
    public struct Entry: Sendable, Hashable, Codable {
        /// The SKU's part number; absent in `totals`.
        public var sku: String?
        public var currency: String
        public var monthlyNow: Amount
        public var monthlyAfterBase: Amount
        public var monthlyAfterProposed: Amount
    }

    init(base: PlanCost, proposed: PlanCost) {
        let baseBySku = Dictionary(base.skus.map { ($0.skuId, $0) }, uniquingKeysWith: { first, _ in first })
        skus = proposed.skus.map { sku in
            Entry(
                sku: sku.sku,
                currency: sku.currency,
                monthlyNow: sku.monthlyBefore,
                monthlyAfterBase: baseBySku[sku.skuId]?.monthlyAfter ?? sku.monthlyBefore,
                monthlyAfterProposed: sku.monthlyAfter
            )
        }
        totals = Dictionary(grouping: skus, by: \.currency).sorted { $0.key < $1.key }.map { currency, entries in
            Entry(
                sku: nil,
                currency: currency,
                monthlyNow: entries.reduce(.zero) { $0 + $1.monthlyNow },
                monthlyAfterBase: entries.reduce(.zero) { $0 + $1.monthlyAfterBase },
                monthlyAfterProposed: entries.reduce(.zero) { $0 + $1.monthlyAfterProposed }
            )
        }
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
