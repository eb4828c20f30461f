/// Policies resolved against one tenant: group names to group indices, SKU and plan names to ids,
/// allow-lists to `disabledPlans`, attribute conditions to a yes/no table per distinct value.
///
/// Date conditions are resolved as of `evaluatedAt`, the cycle's start time (or the `--at` of
/// `allot plan`): the planner reads no clock, so the same tenant, policies and time always
/// give the same plan.
///
/// Compiling is where the tenant-fit problems surface: a group that does not exist or is
/// ambiguous, a SKU or plan the tenant does not have, an attribute the snapshot lacks. They
/// come back all at once as diagnostics pointing at the policy line, and a plan is never made
/// from policies that do not fit (fail closed).
public struct CompiledPolicies: Sendable {
    public let policies: [Policy]
    /// The managed SKUs as the tenant knows them; a managed index is a position here.
    public let managedSkus: [SubscribedSku]
    /// The instant (seconds since the epoch) that `olderThan` and `withinLast` count back from.
    public let evaluatedAt: Int64
    /// Managed indices ordered so that a SKU comes before every SKU it replaces.
    let replacementOrder: [Int]
    let compiled: [CompiledPolicy]
    /// What policies do, deduplicated: policies with the same grants share an effect, and the
    /// desired licenses of a user depend only on the set of effects matched (priorities matter
    /// only when seats run short, and are read from the matched policies then: keeping them in
    /// the effect multiplies the distinct effect sets, 1,487 to 66,718 in the benchmark).
    let effects: [LicenseEffect]
    /// Per policy, its index in `effects`.
    let effectOfPolicy: [Int]
    /// The service-plan ids of each managed SKU that apply to users (what `disabledPlans` may hold).
    let userPlans: [Set<GUID>]

    /// - Parameter evaluatedAt: the cycle's start time, seconds since the epoch: date conditions are evaluated as of it.
    /// - Throws: ``DiagnosticsError`` with every tenant-fit problem found.
    public init(
        policies: [Policy],
        settings: ReconcileSettings,
        tenant: TenantModel,
        evaluatedAt: Int64
    ) throws(DiagnosticsError) {
        var problems: [Diagnostic] = []
        var managed: [SubscribedSku] = []
        for reference in settings.managedSkus {
            guard let sku = tenant.sku(matching: reference.value) else {
                problems.append(
                    Diagnostic(
                        "managed SKU '\(reference.value)' is not one of the tenant's subscribed SKUs"
                            + Self.hint(reference.value, tenant.subscribedSkus.map(\.skuPartNumber)),
                        at: reference.location
                    )
                )
                continue
            }
            if sku.appliesTo == "Company" {
                problems.append(
                    Diagnostic(
                        "managed SKU '\(reference.value)' applies to the company, not to users: it cannot be assigned",
                        at: reference.location
                    )
                )
            } else if !managed.contains(where: { $0.skuId == sku.skuId }) {
                managed.append(sku)
            }
        }
        if managed.count > SkuMask.capacity {
            problems.append(
                Diagnostic(
                    "\(managed.count) managed SKUs: Allot manages at most \(SkuMask.capacity)",
                    at: settings.managedSkus.first?.location
                )
            )
        }
        let userPlans = managed.map { sku in
            Set(sku.servicePlans.filter { $0.appliesTo != "Company" }.map(\.servicePlanId))
        }

        var resolver = Resolver(tenant: tenant, managed: managed, userPlans: userPlans, evaluatedAt: evaluatedAt)
        let compiled = policies.map { resolver.compile($0) }
        problems += resolver.problems

        var edges: [(from: Int, to: Int)] = []
        for policy in compiled {
            for grant in policy.grants {
                for replaced in grant.replaces { edges.append((grant.sku, replaced)) }
            }
        }
        let order = Self.topologicalOrder(count: managed.count, edges: edges)
        if order.count < managed.count {
            // Left unordered: the SKUs on a cycle and those they replace. Name the cycle's SKUs
            // and point at the first policy with one of its edges. (Policy validation finds
            // cycles by name; this one can only come from a SKU named by id on one side.)
            let ordered = Set(order)
            let onCycle = Set(edges.filter { !ordered.contains($0.from) && !ordered.contains($0.to) }.map(\.from))
            let culprit = zip(policies, compiled).first { _, policy in
                policy.grants.contains { onCycle.contains($0.sku) && $0.replaces.contains(where: onCycle.contains) }
            }?.0
            problems.append(
                Diagnostic(
                    "the policies' `replaces` form a cycle among \(onCycle.sorted().map { managed[$0].skuPartNumber }.joined(separator: ", ")): a SKU would replace itself",
                    at: culprit?.location ?? policies.first?.location
                )
            )
        }
        guard problems.isEmpty else { throw DiagnosticsError(problems) }
        self.policies = policies
        self.managedSkus = managed
        self.evaluatedAt = evaluatedAt
        self.replacementOrder = order
        self.compiled = compiled
        self.userPlans = userPlans
        var effects: [LicenseEffect] = []
        var effectIndex: [LicenseEffect: Int] = [:]
        effectOfPolicy = compiled.map { policy in
            let effect = LicenseEffect(grants: policy.grants.sorted { $0.sku < $1.sku })
            if let known = effectIndex[effect] { return known }
            effects.append(effect)
            effectIndex[effect] = effects.count - 1
            return effects.count - 1
        }
        self.effects = effects
    }

    static func hint(_ word: String, _ candidates: [String]) -> String {
        ClosestMatch.suggestion(for: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Kahn's algorithm, smallest index first among the ready ones so the order is stable.
    private static func topologicalOrder(count: Int, edges: [(from: Int, to: Int)]) -> [Int] {
        var incoming = [Int](repeating: 0, count: count)
        var outgoing = [[Int]](repeating: [], count: count)
        for edge in Set(edges.map { [$0.from, $0.to] }) {
            outgoing[edge[0]].append(edge[1])
            incoming[edge[1]] += 1
        }
        var ready = (0..<count).filter { incoming[$0] == 0 }
        var order: [Int] = []
        while let next = ready.min() {
            ready.removeAll { $0 == next }
            order.append(next)
            for target in outgoing[next] {
                incoming[target] -= 1
                if incoming[target] == 0 { ready.append(target) }
            }
        }
        return order
    }
}

/// One policy, compiled.
struct CompiledPolicy: Sendable {
    /// Attribute tests, each on one column.
    var tests: [ColumnTest]
    /// `exclude.attributes`, compiled the same way: a user for whom any holds is excluded.
    var excludeTests: [ColumnTest]
    /// The groups (indices) of the `groups` clause: a member of any passes; `nil` when the
    /// policy has no group clause, empty when it matches nobody.
    var groupFilter: Set<Int>?
    /// Members of these groups (indices) are excluded.
    var excludedGroups: Set<Int>
    /// These users (indices) are excluded.
    var excludedUsers: [Int]
    var grants: [CompiledGrant]
    var priority: Int
}

extension CompiledPolicy {
    /// Whether the user would match this policy as a member of `groups` as well as of the
    /// groups they are in: the group shrink hold's question. Attribute tests and exclusions
    /// (by group and by name) still apply. A group the policy excludes is not joined: the user
    /// who left it would match through the others (a policy may name a group in `groups` and
    /// in `exclude.groups`, and another shrunk group beside it).
    func wouldMatch(user: Int, joining groups: Set<Int>, tenant: TenantModel) -> Bool {
        let memberOf = groups.subtracting(excludedGroups).union(
            tenant.groupSets[Int(tenant.groupSetOfUser[user])].map(Int.init)
        )
        guard groupFilter.map({ !$0.isDisjoint(with: memberOf) }) ?? true, excludedGroups.isDisjoint(with: memberOf),
            !excludedUsers.contains(user)
        else { return false }
        return tests.allSatisfy { $0.holds(forUser: user, in: tenant.columns) }
            && !excludeTests.contains { $0.holds(forUser: user, in: tenant.columns) }
    }
}

/// The licensing effect of a policy: its grants, sorted by SKU.
struct LicenseEffect: Sendable, Hashable {
    var grants: [CompiledGrant]
}

/// One granted SKU, compiled.
struct CompiledGrant: Sendable, Hashable {
    /// The managed index.
    var sku: Int
    /// Sorted; empty enables every plan.
    var disabledPlans: [GUID]
    /// Managed indices this grant replaces.
    var replaces: [Int]
}

/// Resolves one policy's references against the tenant, collecting problems.
private struct Resolver {
    let tenant: TenantModel
    let managed: [SubscribedSku]
    let userPlans: [Set<GUID>]
    let evaluatedAt: Int64
    var problems: [Diagnostic] = []
    /// Tests already compiled, by attribute path and operators: policies often share conditions.
    var tables: [String: [[AttributeOperator]: ColumnTest]] = [:]

    init(tenant: TenantModel, managed: [SubscribedSku], userPlans: [Set<GUID>], evaluatedAt: Int64) {
        self.tenant = tenant
        self.managed = managed
        self.userPlans = userPlans
        self.evaluatedAt = evaluatedAt
    }

    mutating func compile(_ policy: Policy) -> CompiledPolicy {
        let tests = policy.match.attributes.compactMap { compileTest($0, policy: policy.name) }
        let excludeTests = policy.match.exclude.attributes.compactMap { compileTest($0, policy: policy.name) }
        let groupFilter = policy.match.groups.map { resolve($0, policy: policy.name) }
        let excludedGroups = resolve(policy.match.exclude.groups, policy: policy.name)
        let excludedUsers = policy.match.exclude.users.compactMap { tenant.userIndex(forReference: $0.value) }
        let grants = policy.licenses.compactMap { compileGrant($0, policy: policy.name) }
        return CompiledPolicy(
            tests: tests,
            excludeTests: excludeTests,
            groupFilter: groupFilter,
            excludedGroups: excludedGroups,
            excludedUsers: excludedUsers,
            grants: grants,
            priority: policy.priority
        )
    }

    private mutating func compileTest(_ condition: AttributeCondition, policy: String) -> ColumnTest? {
        guard let column = tenant.columnIndexByPath[condition.path] else {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': the tenant data does not hold attribute '\(condition.path)'; read the tenant (or take the snapshot) again with these policies",
                    at: condition.location
                )
            )
            return nil
        }
        if let known = tables[condition.path]?[condition.operators] { return known }
        let test: AttributeTest
        do {
            test = try AttributeTest(condition, evaluatedAt: evaluatedAt)
        } catch {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': invalid regular expression for '\(condition.path)': \(error)",
                    at: condition.location
                )
            )
            return nil
        }
        let compiled = test.compiled(for: tenant.columns, column: column)
        tables[condition.path, default: [:]][condition.operators] = compiled
        return compiled
    }

    /// The groups the references name, reporting each that names none or several.
    private mutating func resolve(_ references: [GroupReference], policy: String) -> Set<Int> {
        var resolved: Set<Int> = []
        for reference in references {
            let found = tenant.groups(matching: reference.value)
            switch found.count {
            case 1:
                resolved.insert(found[0])
            case 0:
                let what =
                    reference.isGUID
                    ? "no group has the object id '\(reference.value)'" : "no group is named '\(reference.value)'"
                problems.append(
                    Diagnostic(
                        "policy '\(policy)': \(what) in the tenant"
                            + CompiledPolicies.hint(reference.value, tenant.groups.map(\.displayName)),
                        at: reference.location
                    )
                )
            default:
                let ids = found.map { tenant.groups[$0].id.description }.joined(separator: ", ")
                problems.append(
                    Diagnostic(
                        "policy '\(policy)': \(found.count) groups are named '\(reference.value)' (\(ids)); name one by its object id",
                        at: reference.location
                    )
                )
            }
        }
        return resolved
    }

    private mutating func managedIndex(_ reference: SkuReference, policy: String, role: String) -> Int? {
        guard let sku = tenant.sku(matching: reference.value) else {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': \(role) '\(reference.value)' is not one of the tenant's subscribed SKUs"
                        + CompiledPolicies.hint(reference.value, tenant.subscribedSkus.map(\.skuPartNumber)),
                    at: reference.location
                )
            )
            return nil
        }
        guard let index = managed.firstIndex(where: { $0.skuId == sku.skuId }) else {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': \(role) '\(reference.value)' is not in reconcile.managedSkus; Allot only touches managed SKUs",
                    at: reference.location
                )
            )
            return nil
        }
        return index
    }

    private mutating func compileGrant(_ grant: Policy.LicenseGrant, policy: String) -> CompiledGrant? {
        let replaces = grant.replaces.compactMap { managedIndex($0, policy: policy, role: "replaced SKU") }
        guard let sku = managedIndex(grant.sku, policy: policy, role: "SKU") else { return nil }
        var disabled: Set<GUID> = []
        switch grant.plans {
        case .all:
            break
        case let .disabled(references):
            disabled = Set(references.compactMap { resolvePlan($0, in: sku, policy: policy) })
        case let .enabled(references):
            let enabled = Set(references.compactMap { resolvePlan($0, in: sku, policy: policy) })
            disabled = userPlans[sku].subtracting(enabled)
        }
        return CompiledGrant(sku: sku, disabledPlans: disabled.sorted(), replaces: replaces)
    }

    private mutating func resolvePlan(_ reference: PlanReference, in sku: Int, policy: String) -> GUID? {
        let plans = managed[sku].servicePlans
        let plan =
            GUID(reference.value).flatMap { id in plans.first { $0.servicePlanId == id } }
            ?? plans.first { $0.servicePlanName.lowercased() == reference.value.lowercased() }
        guard let plan else {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': SKU \(managed[sku].skuPartNumber) has no service plan '\(reference.value)'"
                        + CompiledPolicies.hint(reference.value, plans.map(\.servicePlanName)),
                    at: reference.location
                )
            )
            return nil
        }
        guard userPlans[sku].contains(plan.servicePlanId) else {
            problems.append(
                Diagnostic(
                    "policy '\(policy)': service plan '\(reference.value)' of \(managed[sku].skuPartNumber) applies to the company, not to users",
                    at: reference.location
                )
            )
            return nil
        }
        return plan.servicePlanId
    }
}
