import AllotTools
import PropertyBased
import Testing

@testable import AllotCore

/// Properties that hold for every tenant and policy set: random scenarios (see
/// ``RandomScenario``), hundreds per property. A failure prints the scenario's seed.
@Suite("Planner properties")
struct PlannerPropertyTests {
    static let users = Gen.int(in: 0...40)
    static let seeds = Gen.uint64(in: 0...UInt64.max)

    /// A plan that breaks a seat cycle defers an add that the next cycle can serve (the other
    /// calls on the cycle have freed its seat by then), so convergence is: applying plans and
    /// planning again ends in a plan that sends nothing, and every plan after the first changes
    /// only users whose adds the plan before deferred. (Seed 6325145893746303776, 5 users, found
    /// the cycle: user2 swaps E5 for E3 while user5 swaps E3 for E5, no seat of either free.)
    @Test(
        "applying plans and planning again ends sending nothing; after the first, only deferred users change (convergence)"
    )
    func convergence() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let options = PlanningOptions(allowMassRemoval: true)
            var tenant = scenario.snapshot
            var plan = try scenario.plan(tenant, options: options)
            // `changes` names every change each time it is read: read once per plan.
            var changes = plan.changes
            for round in 2...(users + 2) where !changes.isEmpty {
                let deferred = Set(plan.deferred.map(\.userId))
                tenant = GraphModel.apply(plan, to: tenant)
                plan = try scenario.plan(tenant, options: options)
                changes = plan.changes
                let changed = changes.filter { !deferred.contains($0.userId) }
                #expect(
                    changed.isEmpty,
                    "\(scenario): plan \(round) changes users the plan before did not defer: \(changed.map(\.userPrincipalName))"
                )
            }
            #expect(
                changes.isEmpty,
                "\(scenario): still changes \(changes.map(\.userPrincipalName)) after \(users + 2) plans"
            )
        }
    }

    @Test(
        "the seat cycle seed 6325145893746303776 found: both adds on it wait one plan, the next plan serves them, the one after sends nothing"
    )
    func seatCycleServedNextPlan() throws {
        let scenario = RandomScenario(users: 5, seed: 6325145893746303776)
        let options = PlanningOptions(allowMassRemoval: true)
        let first = try scenario.plan(scenario.snapshot, options: options)
        #expect(first.deferred.map(\.userPrincipalName).sorted() == ["user2@contoso.com", "user5@contoso.com"])
        #expect(first.deferred.allSatisfy { $0.reason.hasPrefix("seat cycle") })
        let afterFirst = GraphModel.apply(first, to: scenario.snapshot)
        let second = try scenario.plan(afterFirst, options: options)
        #expect(
            second.changes.map(\.userPrincipalName).sorted() == ["user2@contoso.com", "user5@contoso.com"]
                && second.deferred.isEmpty
        )
        #expect(try scenario.plan(GraphModel.apply(second, to: afterFirst), options: options).changes.isEmpty)
    }

    @Test("unmanaged SKUs and group-inherited assignments are never in a plan; one call per user")
    func onlyManagedDirectAssignments() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let plan = try scenario.plan(scenario.snapshot)
            let managed = Set(
                scenario.snapshot.subscribedSkus.filter { RandomScenario.managedNames.contains($0.skuPartNumber) }.map(
                    \.skuId
                )
            )
            let usersById = Dictionary(uniqueKeysWithValues: scenario.snapshot.users.map { ($0.id, $0) })
            let changes = plan.changes
            #expect(Set(changes.map(\.userId)).count == changes.count, "\(scenario)")
            for change in changes {
                guard let body = change.assignLicense else { continue }
                #expect(body.addLicenses.allSatisfy { managed.contains($0.skuId) }, "\(scenario)")
                for removed in body.removeLicenses {
                    #expect(managed.contains(removed), "\(scenario)")
                    let direct =
                        usersById[change.userId]?.licenseAssignmentStates?.contains {
                            $0.skuId == removed && $0.isDirect
                        } ?? false
                    #expect(
                        direct,
                        "\(scenario): \(change.userPrincipalName) loses \(removed), which it does not hold directly"
                    )
                }
            }
        }
    }

    @Test("seats are never oversubscribed")
    func seatsHold() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let plan = try scenario.plan(scenario.snapshot)
            let after = GraphModel.apply(plan, to: scenario.snapshot)
            for (before, now) in zip(scenario.snapshot.subscribedSkus, after.subscribedSkus) {
                #expect(
                    now.consumedUnits <= max(before.prepaidUnits.enabled, before.consumedUnits),
                    "\(scenario): \(now.skuPartNumber)"
                )
            }
            for seats in plan.seats {
                let actual = after.subscribedSkus.first { $0.skuId == seats.skuId }?.consumedUnits
                #expect(seats.consumedAfter == actual, "\(scenario): \(seats.sku) seat count after the plan")
            }
        }
    }

    @Test("the same input always yields the same plan, whatever the order Graph listed users in")
    func determinism() async {
        await propertyCheck(count: 200, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            var shuffled = scenario.snapshot
            var random = SplitMix64(seed: seed ^ 0xABCDEF)
            shuffled.users.shuffle(using: &random)
            let plan = try scenario.plan(scenario.snapshot)
            #expect(try scenario.plan(scenario.snapshot) == plan, "\(scenario)")
            #expect(try scenario.plan(shuffled) == plan, "\(scenario)")
        }
    }

    @Test("the guard holds whatever the input")
    func guardHolds() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let plan = try scenario.plan(scenario.snapshot)
            let removals = plan.changes.reduce(0) { $0 + ($1.assignLicense?.removeLicenses.count ?? 0) }
            let limits = scenario.settings.guardrail
            if plan.guardrail.tripped && !scenario.options.allowMassRemoval {
                #expect(removals == 0, "\(scenario)")
            } else {
                #expect(removals <= limits.maxRemovals || scenario.options.allowMassRemoval, "\(scenario)")
                let percentLimit = Double(plan.guardrail.managedLicensesAssigned) * limits.maxRemovalPercent / 100
                #expect(Double(removals) <= percentLimit || scenario.options.allowMassRemoval, "\(scenario)")
            }
        }
    }

    @Test("a SKU removed as replaced leaves the user holding one that replaces it, directly or through a chain")
    func replacedSkusAreReplaced() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let plan = try scenario.plan(scenario.snapshot)
            let after = GraphModel.apply(plan, to: scenario.snapshot)
            var replaces: [String: Set<String>] = [:]
            for grant in scenario.policies.flatMap(\.licenses) {
                replaces[grant.sku.value, default: []].formUnion(grant.replaces.map(\.value))
            }
            func supersedes(_ sku: String, _ replaced: String) -> Bool {
                replaces[sku, default: []].contains { $0 == replaced || supersedes($0, replaced) }
            }
            let names = Dictionary(
                uniqueKeysWithValues: scenario.snapshot.subscribedSkus.map { ($0.skuId, $0.skuPartNumber) }
            )
            for change in plan.changes {
                let holds =
                    after.users.first { $0.id == change.userId }?.assignedLicenses.compactMap { names[$0.skuId] } ?? []
                for removal in change.removals where removal.reason == .replaced {
                    #expect(
                        holds.contains { supersedes($0, removal.sku) },
                        "\(scenario): \(change.userPrincipalName) lost \(removal.sku)"
                    )
                }
            }
        }
    }
}

extension PlannerPropertyTests {
    @Test("sent in seat waves, each wave in a random order, Graph refuses no call of a plan for lack of a seat")
    func seatWavesNeverRefused() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            let plan = try scenario.plan(scenario.snapshot)
            var random = SplitMix64(seed: seed ^ 0x5EA7)
            let result = StrictGraphModel.sendInWaves(plan, to: scenario.snapshot, random: &random)
            #expect(result.refused.isEmpty, "\(scenario): refused for lack of seats: \(result.refused)")
            #expect(result.sent == plan.changes.count, "\(scenario): every call goes out")
        }
    }
}

extension PlannerPropertyTests {
    @Test(
        "the group shrink hold only ever withholds removals, each one a removal that membership in a shrunk group would have prevented"
    )
    func shrinkHoldWithholdsOnlyCausedRemovals() async {
        await propertyCheck(count: 300, input: Self.users, Self.seeds) { users, seed in
            let scenario = RandomScenario(users: users, seed: seed)
            var random = SplitMix64(seed: seed ^ 0x5417)
            let shrunk = scenario.snapshot.groups.filter { _ in random.chance(0.5) }
            // Past the guard: it would otherwise trip in one plan and not the other.
            let plain = try scenario.plan(scenario.snapshot, options: PlanningOptions(allowMassRemoval: true))
            let held = try scenario.plan(
                scenario.snapshot,
                options: PlanningOptions(allowMassRemoval: true, shrunkGroups: Set(shrunk.map(\.id)))
            )
            let plainRemovals = plain.removals
            let heldRemovals = held.removals
            for (user, removed) in heldRemovals {
                #expect(
                    removed.isSubset(of: plainRemovals[user] ?? []),
                    "\(scenario): the hold added a removal for \(user)"
                )
            }
            for removal in held.heldRemovals {
                #expect(
                    !(heldRemovals[removal.userId] ?? []).contains(removal.skuId),
                    "\(scenario): a held removal was sent"
                )
                #expect(
                    (plainRemovals[removal.userId] ?? []).contains(removal.skuId),
                    "\(scenario): held a removal the plan would not make"
                )
                #expect(
                    !removal.groups.isEmpty && removal.groups.allSatisfy { id in shrunk.contains { $0.id == id } },
                    "\(scenario)"
                )
                // Justified: as a member of one of the groups named, the user would keep the SKU.
                let kept = try removal.groups.contains { group in
                    var joined = scenario.snapshot
                    let index = joined.groups.firstIndex { $0.id == group }!
                    joined.groups[index].members.append(removal.userId)
                    let plan = try scenario.plan(joined, options: PlanningOptions(allowMassRemoval: true))
                    return !(plan.removals[removal.userId] ?? []).contains(removal.skuId)
                }
                #expect(kept, "\(scenario): \(removal.userPrincipalName) keeps \(removal.sku) in no shrunk group named")
            }
            #expect(held.summary.heldRemovals == held.heldRemovals.count, "\(scenario)")
            if shrunk.isEmpty { #expect(held == plain, "\(scenario)") }
        }
    }
}

extension Plan {
    /// The SKUs each user's call removes.
    var removals: [GUID: Set<GUID>] {
        Dictionary(changes.map { ($0.userId, Set($0.assignLicense?.removeLicenses ?? [])) }) { $0.union($1) }
    }
}
