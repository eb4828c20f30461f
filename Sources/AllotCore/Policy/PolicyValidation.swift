/// The checks of a policy set that need nothing but the policies and the reconcile
/// settings: no tenant, no files.
///
/// The loader runs them after reading every policy file, the fuzz target runs them on
/// whatever it reads, and the planner may rely on a set that passed them. Checks against
/// a tenant (a group or a plan that does not exist) are the planner's.
///
/// - Names are unique across all files (case-insensitively); each place is reported.
/// - Every SKU granted or replaced is in `managedSkus`, compared case-insensitively. A GUID
///   on one side and a name on the other cannot be compared without the tenant: left alone.
/// - No SKU replaces itself, directly or through other policies' `replaces`.
/// - Every `matches` pattern compiles as the planner compiles it (``PolicyPattern``).
/// - `match` has a clause; `all: true` stands alone.
/// - No policy grants the same SKU twice.
public enum PolicyValidation {
    /// Every problem of `policies`, sorted by place.
    public static func validate(_ policies: [Policy], reconcile: ReconcileSettings) -> [Diagnostic] {
        validate(policies, managedSkus: reconcile.managedSkus)
    }

    /// Every problem of `policies`; with `managedSkus` nil (the configuration could not say
    /// which SKUs are managed) the membership check is left out.
    public static func validate(_ policies: [Policy], managedSkus: [SkuReference]?) -> [Diagnostic] {
        var diagnostics = duplicateNames(policies) + replacesCycles(policies)
        for policy in policies {
            diagnostics += matchProblems(policy) + duplicateSkus(policy)
            if let managedSkus {
                diagnostics += unmanagedSkus(policy, managedSkus: managedSkus)
            }
        }
        return diagnostics.sorted()
    }

    // MARK: - Checks

    private static func duplicateNames(_ policies: [Policy]) -> [Diagnostic] {
        let byName = Dictionary(grouping: policies.indices, by: { policies[$0].name.lowercased() })
        var diagnostics: [Diagnostic] = []
        for (index, policy) in policies.enumerated() {
            let others = byName[policy.name.lowercased(), default: []].filter { $0 != index }
            guard !others.isEmpty else { continue }
            let places = others.map { policies[$0].location.map(\.description) ?? "another policy" }.joined(separator: ", ")
            diagnostics.append(Diagnostic("policy name `\(policy.name)` is used more than once (also at \(places)): names must be unique", at: policy.location))
        }
        return diagnostics
    }

    private static func matchProblems(_ policy: Policy) -> [Diagnostic] {
        let match = policy.match
        var diagnostics: [Diagnostic] = []
        if !match.hasClauses {
            diagnostics.append(Diagnostic(
                "`match` of policy `\(policy.name)` has no clause: give `groups` or `attributes`, or write `match: { all: true }` to match everyone",
                at: match.location ?? policy.location))
        } else if match.all && (match.groups != nil || !match.attributes.isEmpty) {
            diagnostics.append(Diagnostic(
                "`match.all: true` already matches everyone: remove it, or remove `groups` and `attributes`",
                at: match.location ?? policy.location))
        }
        for condition in match.attributes {
            for case let .matches(pattern) in condition.operators {
                if let problem = PolicyPattern.problem(with: pattern) {
                    diagnostics.append(Diagnostic("`match.attributes.\(condition.path).matches`: \(problem)", at: condition.location ?? policy.location))
                }
            }
        }
        return diagnostics
    }

    private static func duplicateSkus(_ policy: Policy) -> [Diagnostic] {
        var first: [String: Policy.LicenseGrant] = [:]
        var diagnostics: [Diagnostic] = []
        for grant in policy.licenses {
            if let earlier = first[grant.sku.value.lowercased()] {
                let place = earlier.sku.location.map { " (first at line \($0.line))" } ?? ""
                diagnostics.append(Diagnostic(
                    "SKU `\(grant.sku.value)` is granted twice by policy `\(policy.name)`\(place): merge the two entries",
                    at: grant.sku.location ?? policy.location))
            } else {
                first[grant.sku.value.lowercased()] = grant
            }
        }
        return diagnostics
    }

    private static func unmanagedSkus(_ policy: Policy, managedSkus: [SkuReference]) -> [Diagnostic] {
        let listed = managedSkus.map(\.value).joined(separator: ", ")
        var diagnostics: [Diagnostic] = []
        for grant in policy.licenses {
            if isManaged(grant.sku, managedSkus) == false {
                diagnostics.append(Diagnostic(
                    "SKU `\(grant.sku.value)` is not in `reconcile.managedSkus` (\(listed)): add it there for Allot to assign it, or grant a managed SKU",
                    at: grant.sku.location ?? policy.location))
            }
            for replaced in grant.replaces where isManaged(replaced, managedSkus) == false {
                diagnostics.append(Diagnostic(
                    "`replaces` names SKU `\(replaced.value)`, which is not in `reconcile.managedSkus` (\(listed)): Allot never removes an unmanaged SKU",
                    at: replaced.location ?? policy.location))
            }
        }
        return diagnostics
    }

    /// True or false when it can be told from the names; nil when one side is a GUID and
    /// the other a name, which only the tenant's SKU list can decide.
    private static func isManaged(_ sku: SkuReference, _ managedSkus: [SkuReference]) -> Bool? {
        let key = sku.value.lowercased()
        if managedSkus.contains(where: { $0.value.lowercased() == key }) { return true }
        if managedSkus.contains(where: { $0.isGUID != sku.isGUID }) { return nil }
        return false
    }

    /// Every `replaces` entry that leads back to the SKU that replaces, through the
    /// `replaces` of all policies (a user matched by several gets all of them).
    private static func replacesCycles(_ policies: [Policy]) -> [Diagnostic] {
        var edges: [String: [String]] = [:]
        var spelling: [String: String] = [:]
        for grant in policies.flatMap(\.licenses) {
            let from = grant.sku.value.lowercased()
            spelling[from] = spelling[from] ?? grant.sku.value
            for replaced in grant.replaces {
                let to = replaced.value.lowercased()
                spelling[to] = spelling[to] ?? replaced.value
                edges[from, default: []].append(to)
            }
        }
        var diagnostics: [Diagnostic] = []
        for policy in policies {
            for grant in policy.licenses {
                for replaced in grant.replaces {
                    let from = grant.sku.value.lowercased()
                    guard let path = shortestPath(from: replaced.value.lowercased(), to: from, edges: edges) else { continue }
                    let chain = ([from] + path).map { "`\(spelling[$0] ?? $0)`" }.joined(separator: " replaces ")
                    let message = path.count == 1
                        ? "SKU `\(grant.sku.value)` replaces itself"
                        : "`replaces` cycle: \(chain): whoever matches these policies would lose every one of them"
                    diagnostics.append(Diagnostic(message, at: replaced.location ?? grant.location ?? policy.location))
                }
            }
        }
        return diagnostics
    }

    /// The SKUs from `start` to `goal` along `replaces`, both included, or nil.
    private static func shortestPath(from start: String, to goal: String, edges: [String: [String]]) -> [String]? {
        var parent: [String: String] = [start: start]
        var queue = [start]
        var index = 0
        while index < queue.count {
            let node = queue[index]
            index += 1
            if node == goal {
                var path = [node]
                var current = node
                while current != start, let previous = parent[current] {
                    path.append(previous)
                    current = previous
                }
                return path.reversed()
            }
            for next in edges[node, default: []] where parent[next] == nil {
                parent[next] = node
                queue.append(next)
            }
        }
        return nil
    }
}
