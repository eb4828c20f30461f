/// Why Allot wants what it wants for one user: `allot explain USER`.
public struct Explanation: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    public var usageLocation: String?
    /// Every policy, in load order, with the verdict on each of its clauses.
    public var policies: [PolicyVerdict]
    /// The managed SKUs the matching policies want (before seats), with their plans.
    public var desired: [DesiredLicense]
    /// Every license the user holds, managed or not, and from where.
    public var current: [HeldLicense]
    /// The user's part of the cycle's plan.
    public var change: UserChange?
    public var deferred: [DeferredAdd]
    public var skipped: SkippedUser?
    public var delayedRemovals: [DelayedRemoval]
    /// Removals held because a group the granting policy names shrank suddenly.
    public var heldRemovals: [HeldRemoval]
    public var heldThroughGroups: [GroupHeldLicense]
}

/// Whether one policy matched, and the clause that decided it.
public struct PolicyVerdict: Sendable, Hashable, Codable {
    public var policy: String
    public var matched: Bool
    public var clauses: [ClauseVerdict]
}

/// One clause of a policy's `match`, evaluated for one user.
public struct ClauseVerdict: Sendable, Hashable, Codable {
    /// `all`, `groups`, `attributes.<path>`, `exclude.groups`, `exclude.attributes.<path>` or `exclude.users`.
    public var clause: String
    /// Whether the clause lets the user through (for `exclude.*`: the user is not excluded).
    public var holds: Bool
    public var detail: String
}

/// A SKU the policies want for the user.
public struct DesiredLicense: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var disabledPlans: [String]
    public var policies: [String]
    /// The SKUs that replace this one for the user (it is then not wanted).
    public var replacedBy: [String]
}

/// Where a user's SKU comes from (`source` in the explanation format).
public enum LicenseSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// Assigned to the user directly: Allot may change it.
    case direct
    /// Inherited through group-based licensing (`group`): Allot never removes it.
    case group
    /// Assigned, with no license assignment state saying from where.
    case unknown
}

/// A SKU the user holds, from one source.
public struct HeldLicense: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var source: LicenseSource
    public var group: GUID?
    public var state: String?
    public var error: String?
    public var disabledPlans: [String]
    /// Whether the SKU is in `reconcile.managedSkus` (Allot never touches the others).
    public var managed: Bool
}

extension Planner {
    /// Explains the plan for one user, by object id or user principal name.
    /// - Returns: `nil` when the tenant has no such user.
    public func explain(user reference: String, options: PlanningOptions = PlanningOptions()) -> Explanation? {
        guard let user = tenant.userIndex(forReference: reference) else { return nil }
        let id = tenant.userID(at: user)
        let plan = plan(options: options)
        let verdicts = policies.policies.indices.map { verdict(policy: $0, user: user) }
        let attribution = attribution(user: user)
        let effects = Set(attribution.policies.map { policies.effectOfPolicy[$0] }).sorted()
        let desired = DesiredLicenses(effects: effects, policies: policies)
        let holding = tenant.licenseHolding(ofUser: user)
        return Explanation(
            userId: id,
            userPrincipalName: tenant.userPrincipalName(at: user),
            usageLocation: tenant.usageLocation(at: user),
            policies: verdicts,
            desired: describe(desired, attribution: attribution),
            current: describe(holding),
            change: plan.change(for: id),
            deferred: plan.deferred.filter { $0.userId == id },
            skipped: plan.skipped.first { $0.userId == id },
            delayedRemovals: plan.delayedRemovals.filter { $0.userId == id },
            heldRemovals: plan.heldRemovals.filter { $0.userId == id },
            heldThroughGroups: plan.heldThroughGroups.filter { $0.userId == id }
        )
    }

    private func verdict(policy index: Int, user: Int) -> PolicyVerdict {
        let policy = policies.policies[index]
        let compiled = policies.compiled[index]
        var clauses: [ClauseVerdict] = []
        if policy.match.all { clauses.append(ClauseVerdict(clause: "all", holds: true, detail: "matches everyone")) }
        if let groups = policy.match.groups {
            let member = groups.filter { isMember(user, of: $0) }.map(\.value)
            clauses.append(
                ClauseVerdict(
                    clause: "groups",
                    holds: !member.isEmpty,
                    detail: groups.isEmpty
                        ? "an empty group list matches nobody"
                        : member.isEmpty
                            ? "not a member of any of: \(groups.map(\.value).joined(separator: ", "))"
                            : "member of \(member.joined(separator: ", "))"
                )
            )
        }
        for (condition, test) in zip(policy.match.attributes, compiled.tests) {
            let holds = test.holds(forUser: user, in: tenant.columns)
            clauses.append(
                ClauseVerdict(
                    clause: "attributes.\(condition.path)",
                    holds: holds,
                    detail:
                        "\(describe(condition, user: user, column: test.column)): \(holds ? "satisfies" : "does not satisfy") \(Self.describe(condition.operators))"
                )
            )
        }
        let excludedBy = policy.match.exclude.groups.filter { isMember(user, of: $0) }.map(\.value)
        if !policy.match.exclude.groups.isEmpty {
            clauses.append(
                ClauseVerdict(
                    clause: "exclude.groups",
                    holds: excludedBy.isEmpty,
                    detail: excludedBy.isEmpty
                        ? "not in an excluded group" : "excluded as a member of \(excludedBy.joined(separator: ", "))"
                )
            )
        }
        for (condition, test) in zip(policy.match.exclude.attributes, compiled.excludeTests) {
            let excluded = test.holds(forUser: user, in: tenant.columns)
            clauses.append(
                ClauseVerdict(
                    clause: "exclude.attributes.\(condition.path)",
                    holds: !excluded,
                    detail: "\(describe(condition, user: user, column: test.column)): "
                        + (excluded ? "excluded, as it satisfies " : "not excluded, as it does not satisfy ")
                        + Self.describe(condition.operators)
                )
            )
        }
        if !policy.match.exclude.users.isEmpty {
            let named = policy.match.exclude.users.contains { tenant.userIndex(forReference: $0.value) == user }
            clauses.append(
                ClauseVerdict(
                    clause: "exclude.users",
                    holds: !named,
                    detail: named ? "excluded by name" : "not excluded by name"
                )
            )
        }
        return PolicyVerdict(policy: policy.name, matched: clauses.allSatisfy(\.holds), clauses: clauses)
    }

    private func isMember(_ user: Int, of reference: GroupReference) -> Bool {
        tenant.groups(matching: reference.value).contains { tenant.isMember(user: user, ofGroup: $0) }
    }

    private func describe(_ desired: DesiredLicenses, attribution: Attribution) -> [DesiredLicense] {
        desired.granted.map { sku in
            DesiredLicense(
                sku: policies.managedSkus[sku].skuPartNumber,
                skuId: policies.managedSkus[sku].skuId,
                disabledPlans: planNames(desired.disabledPlans[sku], of: policies.managedSkus[sku]),
                policies: attribution.granting[sku].map { policies.policies[$0].name },
                replacedBy: desired.replacers(of: sku).map { policies.managedSkus[$0].skuPartNumber }
            )
        }
    }

    private func describe(_ holding: LicenseHolding) -> [HeldLicense] {
        func sku(_ id: GUID) -> SubscribedSku? { tenant.subscribedSkus.first { $0.skuId == id } }
        let managed = Set(policies.managedSkus.map(\.skuId))
        var held = (holding.states ?? []).map { state in
            HeldLicense(
                sku: sku(state.skuId)?.skuPartNumber ?? state.skuId.description,
                skuId: state.skuId,
                source: state.isDirect ? .direct : .group,
                group: state.assignedByGroup,
                state: state.state,
                error: state.error,
                disabledPlans: sku(state.skuId).map { planNames(state.disabledPlans, of: $0) }
                    ?? state.disabledPlans.map(\.description),
                managed: managed.contains(state.skuId)
            )
        }
        for license in holding.assignedLicenses where holding.heldFromUnknownSource(license.skuId) {
            held.append(
                HeldLicense(
                    sku: sku(license.skuId)?.skuPartNumber ?? license.skuId.description,
                    skuId: license.skuId,
                    source: .unknown,
                    disabledPlans: sku(license.skuId).map { planNames(license.disabledPlans, of: $0) } ?? [],
                    managed: managed.contains(license.skuId)
                )
            )
        }
        return held
    }

    func planNames(_ ids: [GUID], of sku: SubscribedSku) -> [String] {
        ids.map { id in sku.servicePlans.first { $0.servicePlanId == id }?.servicePlanName ?? id.description }
    }

    /// `department is 'Sales'`, or for a date `last successful sign-in 2026-08-01T09:00:00Z, 128 days before 2026-12-07`.
    private func describe(_ condition: AttributeCondition, user: Int, column: Int) -> String {
        let value = tenant.columns.value(ofUser: user, column: column)
        guard PolicyDates.isDateAttribute(condition.path) else {
            return "\(condition.path) is \(value.map(Self.describe) ?? "missing")"
        }
        let label = PolicyDates.label(of: condition.path)
        guard let value else { return "\(label) missing" }
        guard let instant = value.instant else { return "\(label) \(Self.describe(value)), not a date" }
        return
            "\(label) \(PolicyDates.shortText(instant)), \(PolicyDates.distance(of: instant, from: policies.evaluatedAt))"
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case let .array(items): "[" + items.map(describe).joined(separator: ", ") + "]"
        case .object: "an object"
        default: "'\(value.scalarText ?? "")'"
        }
    }

    private static func describe(_ operators: [AttributeOperator]) -> String {
        operators.map { op in
            switch op {
            case let .equals(value): "equals '\(value)'"
            case let .anyOf(values): "any of [\(values.map(\.description).joined(separator: ", "))]"
            case let .noneOf(values): "notIn [\(values.map(\.description).joined(separator: ", "))]"
            case let .startsWith(prefixes): "startsWith " + Self.describe(texts: prefixes)
            case let .endsWith(suffixes): "endsWith " + Self.describe(texts: suffixes)
            case let .matches(pattern): "matches /\(pattern)/"
            case let .exists(flag): "exists: \(flag)"
            case let .before(instant): "before \(PolicyDates.shortText(instant))"
            case let .after(instant): "after \(PolicyDates.shortText(instant))"
            case let .olderThan(seconds): "olderThan \(PolicyDates.durationText(seconds))"
            case let .withinLast(seconds): "withinLast \(PolicyDates.durationText(seconds))"
            }
        }.joined(separator: " and ")
    }

    /// `'Senior'`, or `any of ['Senior', 'Staff']`.
    private static func describe(texts: [String]) -> String {
        texts.count == 1 ? "'\(texts[0])'" : "any of [" + texts.map { "'\($0)'" }.joined(separator: ", ") + "]"
    }
}
