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
    /// Every problem of `policies`; with `managedSkus` nil (the configuration could not say
    /// which SKUs are managed) the membership check is left out.
    public static func validate(_ policies: [Policy], managedSkus: [SkuReference]?) -> [Diagnostic] {
        var diagnostics = duplicateNames(policies) + replacesCycles(policies)
        let managed = managedSkus.map(ManagedSkus.init)
        for policy in policies {
            diagnostics += matchProblems(policy) + duplicateSkus(policy)
            if let managed {
                diagnostics += unmanagedSkus(policy, managed: managed)
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
            guard let other = others.first else { continue }
            let place = policies[other].location.map(\.description) ?? "another policy"
            let more = others.count > 1 ? " and \(others.count - 1) more" : ""
            diagnostics.append(
                Diagnostic(
                    "policy name `\(policy.name)` is used more than once (also at \(place)\(more)): names must be unique",
                    at: policy.location
                )
            )
        }
        return diagnostics
    }

    private static func matchProblems(_ policy: Policy) -> [Diagnostic] {
        let match = policy.match
        var diagnostics: [Diagnostic] = []
        if !match.hasClauses {
            diagnostics.append(
                Diagnostic(
                    "`match` of policy `\(policy.name)` has no clause: give `groups` or `attributes`, or write `match: { all: true }` to match everyone",
                    at: match.location ?? policy.location
                )
            )
        } else if match.all && (match.groups != nil || !match.attributes.isEmpty) {
            diagnostics.append(
                Diagnostic(
                    "`match.all: true` already matches everyone: remove it, or remove `groups` and `attributes`",
                    at: match.location ?? policy.location
                )
            )
        }
        for (clause, conditions) in [
            ("match.attributes", match.attributes), ("match.exclude.attributes", match.exclude.attributes),
        ] {
            for condition in conditions {
                for case let .matches(pattern) in condition.operators {
                    if let problem = PolicyPattern.problem(with: pattern) {
                        diagnostics.append(
                            Diagnostic(
                                "`\(clause).\(condition.path).matches`: \(problem)",
                                at: condition.location ?? policy.location
                            )
                        )
                    }
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
                diagnostics.append(
                    Diagnostic(
                        "SKU `\(grant.sku.value)` is granted twice by policy `\(policy.name)`\(place): merge the two entries",
                        at: grant.sku.location ?? policy.location
                    )
                )
            } else {
                first[grant.sku.value.lowercased()] = grant
            }
        }
        return diagnostics
    }

    private static func unmanagedSkus(_ policy: Policy, managed: ManagedSkus) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for grant in policy.licenses {
            if managed.contains(grant.sku) == false {
                diagnostics.append(
                    Diagnostic(
                        "SKU `\(grant.sku.value)` is not in `reconcile.managedSkus` (\(managed.listed)): add it there for Allot to assign it, or grant a managed SKU",
                        at: grant.sku.location ?? policy.location
                    )
                )
            }
            for replaced in grant.replaces where managed.contains(replaced) == false {
                diagnostics.append(
                    Diagnostic(
                        "`replaces` names SKU `\(replaced.value)`, which is not in `reconcile.managedSkus` (\(managed.listed)): Allot never removes an unmanaged SKU",
                        at: replaced.location ?? policy.location
                    )
                )
            }
        }
        return diagnostics
    }

    /// `reconcile.managedSkus`, ready for lookups.
    private struct ManagedSkus {
        let keys: Set<String>
        let hasNames: Bool
        let hasGUIDs: Bool
        /// For messages.
        let listed: String

        init(_ skus: [SkuReference]) {
            keys = Set(skus.map { $0.value.lowercased() })
            hasGUIDs = skus.contains(where: \.isGUID)
            hasNames = skus.contains(where: { !$0.isGUID })
            listed = skus.map(\.value).joined(separator: ", ")
        }

        /// True or false when it can be told from the names; nil when one side is a GUID
        /// and the other a name, which only the tenant's SKU list can decide.
        func contains(_ sku: SkuReference) -> Bool? {
            if keys.contains(sku.value.lowercased()) { return true }
            if sku.isGUID ? hasNames : hasGUIDs { return nil }
            return false
        }
    }

    /// Every `replaces` entry that leads back to the SKU that replaces, through the
    /// `replaces` of all policies (a user matched by several gets all of them).
    ///
    /// Linear in the number of entries: strongly connected components find the cycles,
    /// and the path shown is searched only within a small component.
    private static func replacesCycles(_ policies: [Policy]) -> [Diagnostic] {
        var graph = ReplacesGraph()
        let entries = policies.flatMap { policy in
            policy.licenses.flatMap { grant in
                grant.replaces.map { replaced in
                    (
                        from: graph.node(grant.sku.value), to: graph.node(replaced.value),
                        location: replaced.location ?? grant.location ?? policy.location
                    )
                }
            }
        }
        for entry in entries { graph.addEdge(from: entry.from, to: entry.to) }
        let component = graph.stronglyConnectedComponents()
        let sizes = Dictionary(grouping: component.indices, by: { component[$0] }).mapValues(\.count)

        var diagnostics: [Diagnostic] = []
        for entry in entries where component[entry.from] == component[entry.to] {
            let message: String
            if entry.from == entry.to {
                message = "SKU `\(graph.names[entry.from])` replaces itself"
            } else if let size = sizes[component[entry.from]], size > 8 {
                message =
                    "`replaces` cycle among \(size) SKUs, through `\(graph.names[entry.from])` and `\(graph.names[entry.to])`: "
                    + "whoever matches these policies would lose every one of them"
            } else {
                let path = graph.shortestPath(from: entry.to, to: entry.from)
                let chain = ([entry.from] + path).map { "`\(graph.names[$0])`" }.joined(separator: " replaces ")
                message = "`replaces` cycle: \(chain): whoever matches these policies would lose every one of them"
            }
            diagnostics.append(Diagnostic(message, at: entry.location))
        }
        return diagnostics
    }
}

/// SKUs (by name, ignoring case) and which replaces which.
private struct ReplacesGraph {
    /// As first written.
    private(set) var names: [String] = []
    private var indices: [String: Int] = [:]
    private var edges: [Set<Int>] = []

    mutating func node(_ name: String) -> Int {
        let key = name.lowercased()
        if let index = indices[key] { return index }
        indices[key] = names.count
        names.append(name)
        edges.append([])
        return names.count - 1
    }

    mutating func addEdge(from: Int, to: Int) {
        edges[from].insert(to)
    }

    /// A component number per node (Tarjan's algorithm, iterative: no recursion however
    /// long a chain of `replaces` is).
    func stronglyConnectedComponents() -> [Int] {
        let adjacency = edges.map { $0.sorted() }
        var order = [Int](repeating: -1, count: names.count)
        var lowLink = [Int](repeating: 0, count: names.count)
        var onStack = [Bool](repeating: false, count: names.count)
        var component = [Int](repeating: -1, count: names.count)
        var stack: [Int] = []
        var counter = 0
        var components = 0
        for root in names.indices where order[root] < 0 {
            var work: [(node: Int, next: Int)] = []
            func visit(_ node: Int) {
                order[node] = counter
                lowLink[node] = counter
                counter += 1
                stack.append(node)
                onStack[node] = true
                work.append((node, 0))
            }
            visit(root)
            while let (node, next) = work.last {
                if next < adjacency[node].count {
                    work[work.count - 1].next += 1
                    let target = adjacency[node][next]
                    if order[target] < 0 {
                        visit(target)
                    } else if onStack[target] {
                        lowLink[node] = min(lowLink[node], order[target])
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last?.node { lowLink[parent] = min(lowLink[parent], lowLink[node]) }
                guard lowLink[node] == order[node] else { continue }
                while let member = stack.popLast() {
                    onStack[member] = false
                    component[member] = components
                    if member == node { break }
                }
                components += 1
            }
        }
        return component
    }

    /// The nodes from `start` to `goal`, both included (`goal` must be reachable).
    func shortestPath(from start: Int, to goal: Int) -> [Int] {
        var parent: [Int: Int] = [start: start]
        var queue = [start]
        var index = 0
        while index < queue.count, parent[goal] == nil {
            let node = queue[index]
            index += 1
            for next in edges[node].sorted() where parent[next] == nil {
                parent[next] = node
                queue.append(next)
            }
        }
        var path = [goal]
        while let last = path.last, last != start, let previous = parent[last] {
            path.append(previous)
        }
        return path.reversed()
    }
}
