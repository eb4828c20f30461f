import AllotTools
@testable import AllotCore

/// A random tenant, policy set and settings, fully determined by a seed and a user count,
/// for the planner's property-based tests.
struct RandomScenario: CustomStringConvertible {
    let snapshot: Snapshot
    let policies: [Policy]
    let settings: ReconcileSettings
    let options: PlanningOptions
    let seed: UInt64

    var description: String { "scenario(seed: \(seed), users: \(snapshot.users.count), policies: \(policies.count))" }

    static let managedNames = ["POWER_BI_PRO", "SPE_E3", "SPE_E5"]

    init(users userCount: Int, seed: UInt64) {
        self.seed = seed
        var random = SplitMix64(seed: seed)
        let gblGroup = Fixture.id(5000)
        var skus = [Fixture.powerBIPro(), Fixture.e3(), Fixture.e5(), Fixture.ems()]
        let groups = (1...3).map { number in
            Fixture.group(number, "G\(number)", members: (1...max(1, userCount)).filter { _ in random.chance(0.4) })
        }
        let departments: [JSONValue?] = ["Sales", "Engineering", "R&D", nil, ""]
        let countries: [JSONValue?] = ["US", "CN", "de", nil]
        var users: [DirectoryUser] = []
        for number in 0..<userCount {
            var states: [LicenseAssignmentState] = []
            for sku in skus where random.chance(0.3) {
                let plans = sku.servicePlans.filter { $0.appliesTo != "Company" && random.chance(0.3) }
                states.append(Fixture.direct(sku, disabled: plans))
            }
            for sku in skus.prefix(3) where random.chance(0.1) {
                states.append(Fixture.inherited(sku, from: gblGroup, state: random.chance(0.8) ? "Active" : "Error"))
            }
            var properties: [String: JSONValue] = [:]
            if let department = random.element(departments) { properties["department"] = department }
            if let country = random.element(countries) { properties["country"] = country }
            users.append(
                Fixture.user(
                    number + 1,
                    "user\(number + 1)",
                    location: random.chance(0.85) ? "US" : nil,
                    licenses: states,
                    properties
                )
            )
        }
        for index in skus.indices {
            let consumed = users.filter { user in
                user.licenseAssignmentStates!.contains { $0.skuId == skus[index].skuId && $0.holds }
            }.count
            skus[index].consumedUnits = consumed
            skus[index].prepaidUnits = LicenseUnits(
                enabled: random.below(userCount + 2) + (random.chance(0.5) ? consumed : 0)
            )
        }
        snapshot = Snapshot(attributes: ["department", "country"], subscribedSkus: skus, groups: groups, users: users)

        var policies: [Policy] = []
        for number in 0..<(1 + random.below(5)) {
            var match = Policy.Match()
            switch random.below(4) {
            case 0: match.all = true
            case 1: match.groups = groups.filter { _ in random.chance(0.5) }.map { Reference($0.displayName) }
            default:
                let operators: [AttributeOperator] = [
                    .equals("sales"), .anyOf(["Engineering", "r&d"]), .noneOf(["CN"]), .startsWith(["E"]),
                    .exists(random.chance(0.5)),
                    .matches("^(us|de)$"),
                ]
                match.attributes = [
                    AttributeCondition(
                        path: random.chance(0.5) ? "department" : "country",
                        operators: [random.element(operators)!]
                    )
                ]
            }
            if random.chance(0.3) { match.exclude.groups = [Reference(groups[random.below(3)].displayName)] }
            if random.chance(0.2) {
                match.exclude.users = [Reference("user\(1 + random.below(max(1, userCount)))@contoso.com")]
            }
            var grants: [Policy.LicenseGrant] = []
            for (index, name) in Self.managedNames.enumerated() where random.chance(0.45) {
                let plans = skus[index].servicePlans.filter { $0.appliesTo != "Company" }.map(\.servicePlanName)
                let selection: Policy.PlanSelection =
                    switch random.below(3) {
                    case 0: .all
                    case 1: .disabled(plans.filter { _ in random.chance(0.3) }.map { Reference($0) })
                    default: .enabled(plans.filter { _ in random.chance(0.6) }.map { Reference($0) })
                    }
                // Replacements only point at SKUs listed earlier, so they never form a cycle.
                let replaces = Self.managedNames.prefix(index).filter { _ in random.chance(0.4) }.map { Reference($0) }
                grants.append(Policy.LicenseGrant(sku: Reference(name), plans: selection, replaces: replaces))
            }
            policies.append(Policy(name: "policy-\(number)", priority: random.below(4), match: match, licenses: grants))
        }
        self.policies = policies
        settings = ReconcileSettings(
            managedSkus: Self.managedNames.map { Reference($0) },
            defaultUsageLocation: random.chance(0.5) ? "GB" : nil,
            guardrail: RemovalGuard(
                maxRemovals: random.below(userCount + 1),
                maxRemovalPercent: Double(random.below(101))
            )
        )
        options = PlanningOptions(allowMassRemoval: random.chance(0.3))
    }

    func plan(_ snapshot: Snapshot, options: PlanningOptions? = nil) throws -> Plan {
        let tenant = try TenantModel(snapshot: snapshot)
        let compiled = try CompiledPolicies(
            policies: policies,
            settings: settings,
            tenant: tenant,
            evaluatedAt: (options ?? self.options).now
        )
        return Planner(tenant: tenant, policies: compiled, settings: settings).plan(options: options ?? self.options)
    }
}

/// What Graph does with a plan's calls, as the reference model for convergence properties:
/// usage location PATCHes, then each `assignLicense` (adds replace a direct assignment's plans;
/// removals drop the direct assignment), with `consumedUnits` kept (one seat per user per SKU,
/// whatever the number of sources; a group assignment in error consumes nothing).
enum GraphModel {
    static func apply(_ plan: Plan, to snapshot: Snapshot) -> Snapshot {
        var result = snapshot
        var indexOfUser: [GUID: Int] = [:]
        for (index, user) in result.users.enumerated() { indexOfUser[user.id] = index }
        for change in plan.changes {
            guard let index = indexOfUser[change.userId] else { continue }
            if let location = change.setUsageLocation { result.users[index].usageLocation = location }
            guard let body = change.assignLicense else { continue }
            var states = result.users[index].licenseAssignmentStates ?? []
            for removed in body.removeLicenses { states.removeAll { $0.skuId == removed && $0.isDirect } }
            for added in body.addLicenses {
                states.removeAll { $0.skuId == added.skuId && $0.isDirect }
                states.append(LicenseAssignmentState(skuId: added.skuId, disabledPlans: added.disabledPlans))
            }
            result.users[index].licenseAssignmentStates = states
            var assigned: [GUID: AssignedLicense] = [:]
            for state in states where state.holds {
                assigned[state.skuId] = AssignedLicense(skuId: state.skuId, disabledPlans: state.disabledPlans)
            }
            result.users[index].assignedLicenses = assigned.values.sorted { $0.skuId < $1.skuId }
        }
        for index in result.subscribedSkus.indices {
            let sku = result.subscribedSkus[index].skuId
            result.subscribedSkus[index].consumedUnits =
                result.users.filter { user in
                    user.licenseAssignmentStates?.contains { $0.skuId == sku && $0.holds } ?? false
                }.count
        }
        return result
    }
}

/// Graph as strict as it is about seats: each call runs on its own, and an add of a SKU the
/// user does not hold needs a seat free at that very moment. Calls go out in seat waves
/// (``SeatSchedule``), each wave in a random order, as a parallel `$batch` runs them.
enum StrictGraphModel {
    static func sendInWaves(
        _ plan: Plan,
        to snapshot: Snapshot,
        random: inout SplitMix64
    ) -> (sent: Int, refused: [String]) {
        let changes = plan.changes
        var schedule = SeatSchedule(changes: changes, seats: plan.seats)
        var free = Dictionary(
            uniqueKeysWithValues: snapshot.subscribedSkus.map { ($0.skuId, $0.prepaidUnits.enabled - $0.consumedUnits) }
        )
        var statesOfUser = Dictionary(
            uniqueKeysWithValues: snapshot.users.map { ($0.id, $0.licenseAssignmentStates ?? []) }
        )
        var sent = 0
        var refused: [String] = []
        while case var wave = schedule.nextWave(), !wave.isEmpty {
            wave.shuffle(using: &random)
            for call in wave {
                sent += 1
                let change = changes[call]
                var states = statesOfUser[change.userId] ?? []
                let body = change.assignLicense ?? AssignLicenseBody()
                let holdsBefore = Set(states.filter(\.holds).map(\.skuId))
                let replaced = Set(body.removeLicenses + body.addLicenses.map(\.skuId))
                states.removeAll { $0.isDirect && replaced.contains($0.skuId) }
                states += body.addLicenses.map {
                    LicenseAssignmentState(skuId: $0.skuId, disabledPlans: $0.disabledPlans)
                }
                let holdsAfter = Set(states.filter(\.holds).map(\.skuId))
                let taken = holdsAfter.subtracting(holdsBefore)
                if let short = taken.first(where: { (free[$0] ?? 0) < 1 }) {
                    refused.append("\(change.userPrincipalName) (\(short))")
                    schedule.failed(call)
                    continue
                }
                for sku in taken { free[sku, default: 0] -= 1 }
                for sku in holdsBefore.subtracting(holdsAfter) { free[sku, default: 0] += 1 }
                statesOfUser[change.userId] = states
                schedule.succeeded(call)
            }
        }
        return (sent, refused)
    }
}
