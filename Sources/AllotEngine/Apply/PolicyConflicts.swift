import AllotCore
import AllotGraph

/// Calls Graph refused because of what a policy asks for, not because of the user: a disabled
/// service plan that another enabled plan depends on ("service plan X depends on the service
/// plan(s) Y"), or a SKU whose plans exclude those of another SKU the user holds. Every user the
/// policy grants that SKU to fails the same way, so the cycle reports each (policy, SKU) once
/// (each (policy, SKU pair) for exclusions), with the plans Graph named and how many users it
/// cost, instead of one failure per user; the users are not backed off (fixing the policy, or
/// the other SKU, fixes them all).
struct PolicyConflicts {
    /// The SKUs of the tenant: skuId → (servicePlanId → servicePlanName).
    let plansOfSku: [GUID: [GUID: String]]
    let skuNames: [GUID: String]
    private(set) var conflicts: [CycleReport.PolicyConflict] = []

    init(skus: [SubscribedSku]) {
        var plans: [GUID: [GUID: String]] = [:]
        for sku in skus {
            plans[sku.skuId] = Dictionary(sku.servicePlans.map { ($0.servicePlanId, $0.servicePlanName) }) { first, _ in
                first
            }
        }
        plansOfSku = plans
        skuNames = Dictionary(skus.map { ($0.skuId, $0.skuPartNumber) }) { first, _ in first }
    }

    /// Whether a refusal is a policy conflict.
    static func isConflict(_ error: GraphWriteError) -> Bool {
        error.kind == .dependency || error.kind == .mutuallyExclusive
    }

    /// Counts one refused call against the policies and SKUs responsible; `held` are the SKUs
    /// the user held at the read.
    mutating func record(_ error: GraphWriteError, change: UserChange, held: [GUID]) {
        let named = GUID.all(in: error.message)
        let allNames = plansOfSku.values.reduce(into: [GUID: String]()) { $0.merge($1) { first, _ in first } }
        let planNames = named.map { allNames[$0] ?? $0.description }
        // What the call asks for, SKU by SKU: the policies granting it and the plans left on.
        let grants =
            change.adds.map { (skuId: $0.skuId, sku: $0.sku, policies: $0.policies, enabled: Set($0.enabledPlans)) }
            + change.planChanges.map {
                (skuId: $0.skuId, sku: $0.sku, policies: $0.policies, enabled: Set($0.enabledPlans))
            }
        func offers(
            _ grant: (skuId: GUID, sku: String, policies: [String], enabled: Set<String>),
            _ plans: ArraySlice<GUID>
        ) -> [String] {
            plans.compactMap { plansOfSku[grant.skuId]?[$0] }
        }
        var responsible: [(skuId: GUID, sku: String, policies: [String], enabled: Set<String>)]
        if error.kind == .dependency {
            // The grants that switch a prerequisite off; else those offering the dependent plan.
            let prerequisites = named.dropFirst()
            responsible = grants.filter { grant in offers(grant, prerequisites).contains { !grant.enabled.contains($0) }
            }
            if responsible.isEmpty { responsible = grants.filter { !offers($0, named.prefix(1)).isEmpty } }
        } else {
            responsible = grants.filter { grant in offers(grant, named[...]).contains { grant.enabled.contains($0) } }
        }
        if responsible.isEmpty { responsible = grants }
        for grant in responsible {
            let other =
                error.kind == .mutuallyExclusive
                ? conflictingSku(of: grant.skuId, plans: named, change: change, held: held) : nil
            for policy in grant.policies.isEmpty ? ["(none)"] : grant.policies {
                if let index = conflicts.firstIndex(where: {
                    $0.policy == policy && $0.sku == grant.sku && $0.conflictingSku == other
                        && $0.kind == error.kind.description
                }) {
                    conflicts[index].users += 1
                } else {
                    conflicts.append(
                        CycleReport.PolicyConflict(
                            policy: policy,
                            sku: grant.sku,
                            conflictingSku: other,
                            kind: error.kind.description,
                            plans: planNames,
                            message: error.message,
                            users: 1,
                            exampleUser: change.userPrincipalName
                        )
                    )
                }
            }
        }
    }

    /// The other SKU of an exclusion: one the user keeps (or gets) besides `sku` that offers one
    /// of the excluded plans.
    private func conflictingSku(of sku: GUID, plans: [GUID], change: UserChange, held: [GUID]) -> String? {
        let removed = Set(change.removals.map(\.skuId))
        let after = held.filter { !removed.contains($0) } + change.adds.map(\.skuId)
        let other = after.first { candidate in candidate != sku && plans.contains { plansOfSku[candidate]?[$0] != nil }
        }
        return other.map { id in skuNames[id] ?? id.description }
    }
}
