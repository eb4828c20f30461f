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
    /// Referenced groups (object ids) whose membership shrank suddenly and is not confirmed yet
    /// (the engine's group shrink hold): the removals their lost members would get are held.
    public var shrunkGroups: Set<GUID>
    /// Plan only these users (user indices), as a fast pass does for the users a delta
    /// affected; `nil`: every user. The removal history the plan returns then covers only them.
    public var onlyUsers: [Int]?
    /// Removals already sent since the last full cycle (by fast passes): the guard counts them
    /// with this plan's, so that many small passes cannot remove more than one cycle may.
    public var removalsAlreadySent: Int

    public init(
        allowMassRemoval: Bool = false,
        removalHistory: RemovalHistory = RemovalHistory(),
        now: Int64 = 0,
        usersInBackoff: Set<GUID> = [],
        shrunkGroups: Set<GUID> = [],
        onlyUsers: [Int]? = nil,
        removalsAlreadySent: Int = 0
    ) {
        self.allowMassRemoval = allowMassRemoval
        self.removalHistory = removalHistory
        self.now = now
        self.usersInBackoff = usersInBackoff
        self.shrunkGroups = shrunkGroups
        self.onlyUsers = onlyUsers.map { Array(Set($0)).sorted() }
        self.removalsAlreadySent = removalsAlreadySent
    }
}

/// The planner: a pure function from (tenant, policies, settings, options) to a ``Plan``.
///
/// It implements the product brief's "Semantics": the union of matching policies, plans
/// merged per SKU, `replaces`, managed SKUs and direct assignments only, one call per user,
/// seats served by priority with deferral, usage locations, the removal delay, the group
/// shrink hold and the guard.
public struct Planner: Sendable {
    public let tenant: TenantModel
    public let policies: CompiledPolicies
    public let settings: ReconcileSettings
    let matcher: PolicyMatcher

    public init(tenant: TenantModel, policies: CompiledPolicies, settings: ReconcileSettings) {
        self.tenant = tenant
        self.policies = policies
        self.settings = settings
        matcher = PolicyMatcher(policies: policies, tenant: tenant)
    }

    /// Plans one cycle.
    public func plan(options: PlanningOptions = PlanningOptions()) -> Plan {
        var cycle = PlanningCycle(planner: self, options: options)
        return cycle.run()
    }

    /// Which policies match a user, and which of them grant each SKU.
    func attribution(user: Int) -> Attribution {
        Attribution(matched: matcher.matchedPolicies(user: user, tenant: tenant), policies: policies)
    }

    /// Every user's desired managed licenses before seats, grouped: users matching the same
    /// policies share an entry. For tools that build or check tenants in bulk (the benchmark).
    public func desiredAssignments() -> DesiredAssignments {
        let match = matcher.matchAll(tenant: tenant)
        let licenses = match.effectsOfNode.map { effects in
            let desired = DesiredLicenses(effects: effects, policies: policies)
            return desired.wanted.map {
                AssignedLicense(skuId: policies.managedSkus[$0].skuId, disabledPlans: desired.disabledPlans[$0])
            }
        }
        return DesiredAssignments(entryOfUser: match.nodeOfUser, licensesOfEntry: licenses)
    }
}

/// The desired managed licenses of every user, before seats (see ``Planner/desiredAssignments()``).
public struct DesiredAssignments: Sendable {
    /// Per user index, the entry in `licensesOfEntry`.
    public let entryOfUser: [UInt32]
    public let licensesOfEntry: [[AssignedLicense]]
}

/// One run of the planner, with its scratch state.
private struct PlanningCycle {
    let planner: Planner
    let options: PlanningOptions
    let tenant: TenantModel
    let managed: [SubscribedSku]

    var desiredOfNode: [DesiredLicenses?] = []
    var heldOfHolding: [HeldLicenses?] = []
    var effectsOfNode: [[Int]] = []
    /// By user index, for users with removals held by the group shrink hold: the policies naming
    /// a shrunk group that the user would match as a member of it.
    var shrinkPoliciesOfUser: [Int: [Int]] = [:]

    init(planner: Planner, options: PlanningOptions) {
        self.planner = planner
        self.options = options
        tenant = planner.tenant
        managed = planner.policies.managedSkus
    }

    /// A changed user's working state during seat allocation.
    struct Candidate {
        let user: Int
        let node: Int
        let holding: Int
        var diff: LicenseDiff
        var deferred = SkuMask()
        /// The deferrals that break a seat cycle (the rest are for want of seats).
        var deferredForCycle = SkuMask()
        /// Removals held back by `removalDelay`.
        var delayed = SkuMask()
        /// Removals held back because a group named by a policy granting the SKU shrank suddenly.
        var shrinkHeld = SkuMask()
        /// Whether `diff` predates the latest deferral.
        var stale = false
        /// SKUs the user holds through an active group assignment: removing the direct copy frees no seat.
        let heldThroughGroup: SkuMask
        let hasUsageLocation: Bool
    }

    /// Brings a candidate's diff up to date with its deferrals.
    mutating func refresh(_ candidate: inout Candidate) {
        guard candidate.stale else { return }
        candidate.diff = LicenseDiff(
            desired: desired(candidate.node),
            held: held(candidate.holding),
            deferred: candidate.deferred
        )
        candidate.stale = false
    }

    mutating func desired(_ node: Int) -> DesiredLicenses {
        if let cached = desiredOfNode[node] { return cached }
        let desired = DesiredLicenses(effects: effectsOfNode[node], policies: planner.policies)
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
        let match = planner.matcher.matchAll(tenant: tenant, only: options.onlyUsers)
        effectsOfNode = match.effectsOfNode
        desiredOfNode = Array(repeating: nil, count: effectsOfNode.count)
        heldOfHolding = Array(repeating: nil, count: tenant.holdings.count)

        let differences = differences(nodeOfUser: match.nodeOfUser)
        let candidates = differences.drifted.map { user in
            let node = Int(match.nodeOfUser[user])
            let holding = Int(tenant.holdingOfUser[user])
            return Candidate(
                user: user,
                node: node,
                holding: holding,
                diff: differences.pairs.diff(node: node, holding: holding),
                heldThroughGroup: held(holding).group,
                hasUsageLocation: tenant.hasUsageLocation(at: user)
            )
        }
        var (active, skipped) = leaveAlone(candidates)
        let delay = holdBackYoungRemovals(candidates: candidates, active: &active)
        holdShrinkRemovals(&active)

        // The guard counts the direct removals the cycle wants to send.
        let guardrail = guardOutcome(
            removals: options.removalsAlreadySent
                + active.reduce(0) { $0 + ($1.diff.removals & ~$1.delayed & ~$1.shrinkHeld).count }
        )
        allocateSeats(&active, removalsBlocked: guardrail.holdsRemovals)
        let tally = breakSeatCycles(&active, removalsBlocked: guardrail.holdsRemovals)

        var details = PlanDetails(
            planner: planner,
            desired: desiredOfNode,
            held: heldOfHolding,
            freed: tally.freed,
            shrunkGroups: options.shrunkGroups,
            guardReason: guardrail.holdsRemovals ? guardrail.reason : nil
        )
        var counts = (adds: 0, removals: 0, planChanges: 0, usageLocations: 0)
        for index in active.indices {
            refresh(&active[index])
            let candidate = active[index]
            let diff = candidate.diff
            for sku in diff.adds & candidate.deferred {
                details.deferredRecords.append(
                    PlanDetails.DeferredRecord(
                        user: Int32(candidate.user),
                        sku: sku,
                        seatCycle: candidate.deferredForCycle.contains(sku)
                    )
                )
            }
            let adds = diff.adds & ~candidate.deferred
            let shrinkHeld = diff.removals & candidate.shrinkHeld
            if !shrinkHeld.isEmpty {
                details.heldRecords.append(
                    PlanDetails.HeldRecord(
                        user: Int32(candidate.user),
                        skus: shrinkHeld,
                        cause: .groupShrink(policies: shrinkPoliciesOfUser[candidate.user] ?? [])
                    )
                )
            }
            let wantedRemovals = diff.removals & ~candidate.delayed & ~candidate.shrinkHeld
            if guardrail.holdsRemovals && !wantedRemovals.isEmpty {
                details.heldRecords.append(
                    PlanDetails.HeldRecord(user: Int32(candidate.user), skus: wantedRemovals, cause: .massRemovalGuard)
                )
            }
            let removals = guardrail.holdsRemovals ? SkuMask() : wantedRemovals
            guard !(adds | diff.planChanges | removals).isEmpty else { continue }
            let setsUsageLocation = !(adds | diff.planChanges).isEmpty && !candidate.hasUsageLocation
            details.changeRecords.append(
                PlanDetails.ChangeRecord(
                    user: Int32(candidate.user),
                    node: UInt32(candidate.node),
                    holding: UInt32(candidate.holding),
                    adds: adds,
                    planChanges: diff.planChanges,
                    removals: removals,
                    replaced: diff.replaced & removals,
                    setsUsageLocation: setsUsageLocation
                )
            )
            counts.adds += adds.count
            counts.removals += removals.count
            counts.planChanges += diff.planChanges.count
            if setsUsageLocation { counts.usageLocations += 1 }
        }
        details.groupHeldRecords = differences.groupHeld.map { user in
            let holding = tenant.holdingOfUser[user]
            let skus = differences.pairs.diff(node: Int(match.nodeOfUser[user]), holding: Int(holding)).heldThroughGroup
            return PlanDetails.GroupHeldRecord(user: Int32(user), holding: holding, skus: skus)
        }

        let seats = managed.indices.map { sku in
            let consumedAfter = managed[sku].consumedUnits + tally.served[sku] - tally.freed[sku]
            return SeatCount(
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                prepaid: managed[sku].prepaidUnits.enabled,
                consumedBefore: managed[sku].consumedUnits,
                consumedAfter: consumedAfter,
                availableBefore: managed[sku].availableUnits,
                availableAfter: max(0, managed[sku].prepaidUnits.enabled - consumedAfter),
                deferredAdds: tally.deferred[sku],
                seatsAdded: tally.served[sku],
                seatsFreed: tally.freed[sku]
            )
        }
        let summary = Plan.Summary(
            usersRead: tenant.userCount,
            usersInScope: differences.inScope,
            usersDrifted: candidates.count,
            usersChanged: details.changeRecords.count,
            adds: counts.adds,
            removals: counts.removals,
            planChanges: counts.planChanges,
            usageLocationUpdates: counts.usageLocations,
            deferredAdds: details.deferredRecords.count,
            skippedUsers: skipped.count,
            delayedRemovals: delay.delayed.count,
            heldThroughGroups: details.groupHeldRecords.reduce(0) { $0 + $1.skus.count },
            heldRemovals: details.heldRecords.reduce(0) { $0 + $1.skus.count }
        )
        return Plan(
            summary: summary,
            skipped: skipped,
            delayedRemovals: delay.delayed,
            guardrail: guardrail,
            seats: seats,
            cost: PlanCost(seats: seats, prices: planner.settings.prices),
            removalHistory: delay.history,
            details: details
        )
    }

    /// Pass 1: the seat-free difference of every user, computed once per (matched effects,
    /// holding) pair; the users who drifted and those holding wanted SKUs through groups.
    private mutating func differences(
        nodeOfUser: [UInt32]
    ) -> (pairs: PairTable, drifted: [Int], groupHeld: [Int], inScope: Int) {
        var pairs = PairTable(nodes: effectsOfNode.count, holdings: tenant.holdings.count)
        var drifted: [Int] = []
        var groupHeld: [Int] = []
        var inScope = 0
        nodeOfUser.withUnsafeBufferPointer { nodeOfUser in
            tenant.holdingOfUser.withUnsafeBufferPointer { holdingOfUser in
                let subset = options.onlyUsers
                for position in 0..<(subset?.count ?? nodeOfUser.count) {
                    let user = subset?[position] ?? position
                    let node = Int(nodeOfUser[user])
                    if node != 0 { inScope &+= 1 }
                    let holding = Int(holdingOfUser[user])
                    let pair = pairs.index(node: node, holding: holding) {
                        LicenseDiff(desired: desired(node), held: held(holding))
                    }
                    switch pairs.kinds[pair] {
                    case .converged: break
                    case .groupHeld: groupHeld.append(user)
                    case .drifted: drifted.append(user)
                    case .driftedAndGroupHeld:
                        drifted.append(user)
                        groupHeld.append(user)
                    }
                }
            }
        }
        return (pairs, drifted, groupHeld, inScope)
    }

    /// Users left alone this cycle: in backoff, or needing a license without a usage location
    /// when no default is configured (no call at all, not even a removal).
    private func leaveAlone(_ candidates: [Candidate]) -> (active: [Candidate], skipped: [SkippedUser]) {
        var skipped: [SkippedUser] = []
        var active: [Candidate] = []
        for candidate in candidates {
            let id = tenant.userID(at: candidate.user)
            if options.usersInBackoff.contains(id) {
                skipped.append(
                    SkippedUser(
                        userId: id,
                        userPrincipalName: tenant.userPrincipalName(at: candidate.user),
                        reason: .backoff,
                        detail: "an earlier call for this user failed; it is retried when its backoff has passed"
                    )
                )
            } else if !(candidate.diff.adds | candidate.diff.planChanges).isEmpty, !candidate.hasUsageLocation,
                settings.defaultUsageLocation == nil
            {
                skipped.append(
                    SkippedUser(
                        userId: id,
                        userPrincipalName: tenant.userPrincipalName(at: candidate.user),
                        reason: .noUsageLocation,
                        detail:
                            "needs a license but has no usage location, and reconcile.usageLocation.default is not set"
                    )
                )
            } else {
                active.append(candidate)
            }
        }
        return (active, skipped)
    }

    /// `removalDelay`: remembers when each pending removal was first seen (for every drifted
    /// user, skipped ones included, so their clocks run) and holds back the young ones.
    private func holdBackYoungRemovals(
        candidates: [Candidate],
        active: inout [Candidate]
    ) -> (history: RemovalHistory, delayed: [DelayedRemoval]) {
        let delay = settings.removalDelay.components.seconds
        guard delay > 0 else { return (RemovalHistory(), []) }
        var history = RemovalHistory()
        for candidate in candidates {
            for sku in candidate.diff.removals {
                let pair = PendingRemoval(user: tenant.userID(at: candidate.user), sku: managed[sku].skuId)
                history.firstSeen[pair] = options.removalHistory.firstSeen[pair] ?? options.now
            }
        }
        var delayed: [DelayedRemoval] = []
        for index in active.indices {
            for sku in active[index].diff.removals {
                let pair = PendingRemoval(user: tenant.userID(at: active[index].user), sku: managed[sku].skuId)
                let since = history.firstSeen[pair] ?? options.now
                guard options.now - since < delay else { continue }
                active[index].delayed.insert(sku)
                delayed.append(
                    DelayedRemoval(
                        userId: pair.user,
                        userPrincipalName: tenant.userPrincipalName(at: active[index].user),
                        sku: managed[sku].skuPartNumber,
                        skuId: pair.sku,
                        pendingSince: since,
                        removableFrom: since + delay
                    )
                )
            }
        }
        return (history, delayed)
    }

    /// The group shrink hold: a removal is held when a policy whose `groups` clause names a
    /// shrunk group grants the SKU, and the user would keep the SKU as a member of that group
    /// (the policy's other clauses, attributes and exclusions, hold for the user). The user's
    /// plan is worked out again as if they were a member of every shrunk group their policies
    /// name: a removal that plan would not make is one the shrink causes. Removals already
    /// waiting out `removalDelay` are listed there.
    ///
    /// The membership before the shrink is not kept (only counts are), so a user who was never
    /// in the group but would keep the SKU as a member is held too: the hold errs on keeping.
    private mutating func holdShrinkRemovals(_ active: inout [Candidate]) {
        let shrunk = Set(tenant.groups.indices.filter { options.shrunkGroups.contains(tenant.groups[$0].id) })
        let compiled = planner.policies.compiled
        // Each policy naming a shrunk group, with the shrunk groups it names.
        let naming = compiled.indices.compactMap { policy -> (policy: Int, joining: Set<Int>)? in
            guard let joining = compiled[policy].groupFilter?.intersection(shrunk), !joining.isEmpty else { return nil }
            return (policy, joining)
        }
        guard !naming.isEmpty else { return }
        var desiredOfEffects: [[Int]: DesiredLicenses] = [:]
        for index in active.indices {
            let removals = active[index].diff.removals & ~active[index].delayed
            guard !removals.isEmpty else { continue }
            let user = active[index].user
            let joined = naming.filter {
                compiled[$0.policy].wouldMatch(user: user, joining: $0.joining, tenant: tenant)
            }.map(\.policy)
            let effects = effectsOfNode[active[index].node]
            let widened = Set(effects).union(joined.map { planner.policies.effectOfPolicy[$0] }).sorted()
            guard widened.count > effects.count else { continue }
            let desired = desiredOfEffects[widened] ?? DesiredLicenses(effects: widened, policies: planner.policies)
            desiredOfEffects[widened] = desired
            let kept = removals & ~LicenseDiff(desired: desired, held: held(active[index].holding)).removals
            guard !kept.isEmpty else { continue }
            active[index].shrinkHeld = kept
            shrinkPoliciesOfUser[user] = joined
        }
    }

    /// Seats per managed SKU: freed by removals, served to adds, deferred.
    private struct SeatTally {
        var freed: [Int]
        var served: [Int]
        var deferred: [Int]
    }

    /// Seats, SKU by SKU, replacing SKUs before the SKUs they replace (so a deferred E5 keeps
    /// the E3 it would replace): removals free seats first, then adds are served by (priority
    /// descending, user id ascending); the rest are deferred.
    private mutating func allocateSeats(_ active: inout [Candidate], removalsBlocked: Bool) {
        for sku in planner.policies.replacementOrder {
            var wanting: [Int] = []
            var freed = 0
            for index in active.indices {
                refresh(&active[index])
                if active[index].diff.adds.contains(sku) { wanting.append(index) }
                if frees(active[index], removalsBlocked: removalsBlocked).contains(sku) { freed += 1 }
            }
            // Not clamped at zero: a tenant holding more than it has paid for (a subscription cut
            // down) must free the excess before any add of the SKU gets a seat.
            let seats = max(0, managed[sku].prepaidUnits.enabled - managed[sku].consumedUnits + freed)
            guard wanting.count > seats else { continue }
            // Not enough seats for everyone: priorities decide, so read them (for these users only).
            let ranked =
                wanting
                .map { (index: $0, priority: planner.attribution(user: active[$0].user).priority[sku]) }
                .sorted {
                    $0.priority != $1.priority
                        ? $0.priority > $1.priority : active[$0.index].user < active[$1.index].user
                }
            for entry in ranked.dropFirst(seats) {
                active[entry.index].deferred.insert(sku)
                active[entry.index].stale = true
            }
        }
    }

    /// What a candidate's call means for seats: the adds it sends (a seat each) and the
    /// removals that free one when it succeeds.
    private func seatCall(_ candidate: Candidate, removalsBlocked: Bool) -> SeatSchedule.Call {
        SeatSchedule.Call(
            needs: candidate.diff.adds & ~candidate.deferred,
            frees: frees(candidate, removalsBlocked: removalsBlocked)
        )
    }

    /// The SKUs whose seat a candidate's call frees: direct removals the cycle sends, unless a group still grants the SKU.
    private func frees(_ candidate: Candidate, removalsBlocked: Bool) -> SkuMask {
        removalsBlocked
            ? SkuMask()
            : candidate.diff.removals & ~candidate.delayed & ~candidate.shrinkHeld & ~candidate.heldThroughGroup
    }

    /// Seat waves, simulated as if every call succeeds (``SeatSchedule``): the counts above
    /// guarantee seats for every add served, but not an order to send them in. Calls that wait
    /// for a seat only another waiting call frees, which in turn waits for one of theirs (a seat
    /// cycle, e.g. A swaps E3 for Visio while B swaps Visio for E3, with no spare seat), would
    /// be refused by Graph. The lowest-priority add on the cycle (ties: the higher user id) is
    /// deferred, which withdraws the removal it would replace, and the waves are simulated
    /// again until every call can go out. Returns the final seat counts.
    private mutating func breakSeatCycles(_ active: inout [Candidate], removalsBlocked: Bool) -> SeatTally {
        var calls: [SeatSchedule.Call] = []
        var candidateOfCall: [Int] = []
        while true {
            calls.removeAll(keepingCapacity: true)
            candidateOfCall.removeAll(keepingCapacity: true)
            for index in active.indices {
                refresh(&active[index])
                let call = seatCall(active[index], removalsBlocked: removalsBlocked)
                guard !call.needs.isEmpty || !call.frees.isEmpty else { continue }
                calls.append(call)
                candidateOfCall.append(index)
            }
            var schedule = SeatSchedule(
                calls: calls,
                available: managed.map { $0.prepaidUnits.enabled - $0.consumedUnits }
            )
            while case let wave = schedule.nextWave(), !wave.isEmpty {
                for call in wave { schedule.succeeded(call) }
            }
            guard !schedule.waiting.isEmpty else { break }
            let onCycles = schedule.waitingOnCycles()
            var victim: (call: Int, sku: Int, priority: Int, user: Int)?
            for call in onCycles.isEmpty ? schedule.waiting : onCycles {
                let candidate = active[candidateOfCall[call]]
                let priorities = planner.attribution(user: candidate.user).priority
                for sku in schedule.missingSeats(of: call) {
                    let priority = priorities[sku]
                    if let chosen = victim, (chosen.priority, -chosen.user) <= (priority, -candidate.user) { continue }
                    victim = (call, sku, priority, candidate.user)
                }
            }
            guard let victim else { break }
            let index = candidateOfCall[victim.call]
            active[index].deferred.insert(victim.sku)
            active[index].deferredForCycle.insert(victim.sku)
            active[index].stale = true
        }
        let empty = [Int](repeating: 0, count: managed.count)
        var tally = SeatTally(freed: empty, served: empty, deferred: empty)
        for index in active.indices {
            let call = seatCall(active[index], removalsBlocked: removalsBlocked)
            for sku in call.needs { tally.served[sku] += 1 }
            for sku in call.frees { tally.freed[sku] += 1 }
            for sku in active[index].diff.adds & active[index].deferred { tally.deferred[sku] += 1 }
        }
        return tally
    }

    func guardOutcome(removals: Int) -> GuardOutcome {
        let limits = planner.settings.guardrail
        let assigned = managed.reduce(0) { $0 + $1.consumedUnits }
        let percentLimit = Double(assigned) * limits.maxRemovalPercent / 100
        var reasons: [String] = []
        if removals > limits.maxRemovals { reasons.append("more than maxRemovals (\(limits.maxRemovals))") }
        if Double(removals) > percentLimit {
            reasons.append(
                "more than maxRemovalPercent (\(ScalarValue.number(limits.maxRemovalPercent))% of \(assigned) managed licenses assigned)"
            )
        }
        let tripped = !reasons.isEmpty
        return GuardOutcome(
            tripped: tripped,
            removals: removals,
            maxRemovals: limits.maxRemovals,
            maxRemovalPercent: limits.maxRemovalPercent,
            managedLicensesAssigned: assigned,
            overridden: tripped && options.allowMassRemoval,
            reason: tripped
                ? "the cycle would remove \(removals) licenses"
                    + (options.removalsAlreadySent > 0
                        ? " (\(options.removalsAlreadySent) of them sent by fast passes since the last full cycle)"
                        : "")
                    + ", " + reasons.joined(separator: " and ")
                    + (options.allowMassRemoval
                        ? "; allowed once by --allow-mass-removal"
                        : "; nothing is removed until the policies change or an operator runs `allot apply --allow-mass-removal`")
                : nil
        )
    }

    var settings: ReconcileSettings { planner.settings }
}

/// The seat-free difference of each (matched effects, holding) pair, computed once.
///
/// Most tenants have a few thousand distinct pairs among millions of users. While the full
/// node-by-holding grid is small the index is a flat table (one load per user); beyond that,
/// a dictionary.
private struct PairTable {
    /// What a pair means for its users, so the per-user loop needs one load.
    enum Kind { case converged, groupHeld, drifted, driftedAndGroupHeld }

    private let holdings: Int
    /// `grid[node * holdings + holding]` is the pair's index plus one, or 0 when not computed yet.
    private var grid: [UInt32]
    private var lookup: [UInt64: UInt32] = [:]
    private(set) var diffs: [LicenseDiff] = []
    private(set) var kinds: [Kind] = []

    static let gridLimit = 1 << 23

    init(nodes: Int, holdings: Int) {
        self.holdings = holdings
        let cells = nodes.multipliedReportingOverflow(by: holdings)
        grid =
            !cells.overflow && cells.partialValue <= Self.gridLimit
            ? [UInt32](repeating: 0, count: cells.partialValue) : []
    }

    @inline(__always)
    mutating func index(node: Int, holding: Int, compute: () -> LicenseDiff) -> Int {
        if !grid.isEmpty {
            let cell = node &* holdings &+ holding
            let known = grid[cell]
            if known != 0 { return Int(known) &- 1 }
            let index = append(compute())
            grid[cell] = UInt32(index + 1)
            return index
        }
        let key = UInt64(node) << 32 | UInt64(holding)
        if let known = lookup[key] { return Int(known) }
        let index = append(compute())
        lookup[key] = UInt32(index)
        return index
    }

    func diff(node: Int, holding: Int) -> LicenseDiff {
        if !grid.isEmpty { return diffs[Int(grid[node * holdings + holding]) - 1] }
        return diffs[Int(lookup[UInt64(node) << 32 | UInt64(holding)]!)]
    }

    private mutating func append(_ diff: LicenseDiff) -> Int {
        let kind: Kind =
            switch (diff.isEmpty, diff.heldThroughGroup.isEmpty) {
            case (true, true): .converged
            case (true, false): .groupHeld
            case (false, true): .drifted
            case (false, false): .driftedAndGroupHeld
            }
        diffs.append(diff)
        kinds.append(kind)
        return diffs.count - 1
    }
}
