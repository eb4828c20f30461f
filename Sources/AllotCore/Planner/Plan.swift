/// What one reconcile cycle would do: per user, the exact Graph calls, and why.
///
/// The planner keeps the per-user part compact (masks and indices into the tenant model):
/// a million-user tenant plans in milliseconds, and the named, readable form of each change
/// is built only when someone reads it (``changes``, ``deferred``, ``heldThroughGroups``,
/// or the JSON encoding).
///
/// `allot plan --output json` prints this type as documented in `docs/plan-format.md`; CI
/// pipelines read it, so fields are only ever added, never renamed or removed.
public struct Plan: Sendable, Equatable, Encodable {
    public static let formatVersion = 1

    public var summary: Summary
    /// Users left alone this cycle, and why.
    public var skipped: [SkippedUser]
    /// Removals waiting for `reconcile.removalDelay` to pass.
    public var delayedRemovals: [DelayedRemoval]
    public var guardrail: GuardOutcome
    /// Seats per managed SKU before and after the plan.
    public var seats: [SeatCount]
    /// The monthly cost of the priced managed SKUs before and after the plan (`prices:`).
    public var cost: PlanCost
    /// When each (user, SKU) pair now pending removal was first seen pending: the state the
    /// engine keeps for `removalDelay`. Not part of the JSON output.
    public var removalHistory: RemovalHistory
    let details: PlanDetails

    /// Users with at least one call to send, in user-id order.
    public var changes: [UserChange] { details.changeRecords.map(details.userChange) }
    /// Adds not sent because the SKU has no seat left for them.
    public var deferred: [DeferredAdd] { details.deferredRecords.map(details.deferredAdd) }
    /// Desired SKUs users hold only through group-based licensing (for planning a GBL migration).
    public var heldThroughGroups: [GroupHeldLicense] { details.groupHeldRecords.flatMap(details.groupHeldLicenses) }
    /// Removals held back, each with its cause: a group the granting policy names shrank
    /// suddenly (the group shrink hold), or the mass-removal guard tripped.
    public var heldRemovals: [HeldRemoval] { details.heldRecords.flatMap(details.heldRemovals) }

    /// Whether applying the plan sends any request.
    public var hasChanges: Bool { !details.changeRecords.isEmpty }

    /// Whether anything is pending: a request to send, or an add or removal the plan holds back
    /// (deferred for seats, a skipped user, waiting out `removalDelay`, held by a guard).
    /// `allot plan` exits 2 when this holds, so that CI never passes a plan that hides work.
    public var isPending: Bool {
        hasChanges || summary.deferredAdds > 0 || summary.skippedUsers > 0 || summary.delayedRemovals > 0
            || summary.heldRemovals > 0
    }

    /// One user's change, if the plan has one.
    public func change(for user: GUID) -> UserChange? {
        details.changeRecords.first { details.planner.tenant.userID(at: Int($0.user)) == user }.map(details.userChange)
    }

    private enum CodingKeys: String, CodingKey {
        case version, summary, changes, deferred, skipped, delayedRemovals, heldThroughGroups, heldRemovals
        case guardrail = "guard"
        case seats, cost
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Plan.formatVersion, forKey: .version)
        try container.encode(summary, forKey: .summary)
        try container.encode(changes, forKey: .changes)
        try container.encode(deferred, forKey: .deferred)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(delayedRemovals, forKey: .delayedRemovals)
        try container.encode(heldThroughGroups, forKey: .heldThroughGroups)
        try container.encode(heldRemovals, forKey: .heldRemovals)
        try container.encode(guardrail, forKey: .guardrail)
        try container.encode(seats, forKey: .seats)
        try container.encode(cost, forKey: .cost)
    }

    /// Plans are equal when everything they say is equal (their compact forms may differ).
    public static func == (lhs: Plan, rhs: Plan) -> Bool {
        lhs.summary == rhs.summary && lhs.skipped == rhs.skipped && lhs.delayedRemovals == rhs.delayedRemovals
            && lhs.guardrail == rhs.guardrail && lhs.seats == rhs.seats && lhs.cost == rhs.cost
            && lhs.removalHistory == rhs.removalHistory
            && lhs.changes == rhs.changes && lhs.deferred == rhs.deferred
            && lhs.heldThroughGroups == rhs.heldThroughGroups
            && lhs.heldRemovals == rhs.heldRemovals
    }

    /// The totals of a plan.
    public struct Summary: Sendable, Hashable, Codable {
        public var usersRead: Int
        /// Users at least one policy matches.
        public var usersInScope: Int
        /// Users whose licenses differ from what the policies want (changed, deferred or skipped).
        public var usersDrifted: Int
        /// Users with a call to send.
        public var usersChanged: Int
        public var adds: Int
        public var removals: Int
        public var planChanges: Int
        public var usageLocationUpdates: Int
        public var deferredAdds: Int
        public var skippedUsers: Int
        public var delayedRemovals: Int
        public var heldThroughGroups: Int
        /// Removals held by the group shrink hold or the tripped mass-removal guard.
        public var heldRemovals: Int
    }
}

/// One user's change: the calls to send and the reasons for each part.
public struct UserChange: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    /// The usage location to PATCH before the license call, when the user has none.
    public var setUsageLocation: String?
    /// The exact `assignLicense` body, or `nil` when only the usage location changes.
    public var assignLicense: AssignLicenseBody?
    public var adds: [LicenseAdd]
    public var planChanges: [PlanChange]
    public var removals: [LicenseRemoval]
    /// Every policy that matched the user.
    public var policies: [String]
    /// In a policy impact (`allot plan --compare-to`): `policy` when any part of the change is
    /// caused by the proposed policies, `drift` when every part is planned with either policy set.
    public var cause: ChangeCause? = nil
}

/// Why a change is in a policy impact: the proposed policies cause it, or it is drift already in
/// the tenant that either policy set plans (`allot plan --compare-to`, docs/gitops.md).
public enum ChangeCause: String, Sendable, Hashable, Codable {
    case policy, drift
}

/// The body of `POST /users/{id}/assignLicense`. Both arrays are always sent, even empty:
/// Graph rejects a body that leaves one out.
public struct AssignLicenseBody: Sendable, Hashable, Codable {
    /// SKUs to add, or to re-add with a new, complete `disabledPlans` set.
    public var addLicenses: [AssignedLicense]
    /// skuIds to remove.
    public var removeLicenses: [GUID]

    public init(addLicenses: [AssignedLicense] = [], removeLicenses: [GUID] = []) {
        self.addLicenses = addLicenses
        self.removeLicenses = removeLicenses
    }
}

/// A SKU added to a user.
public struct LicenseAdd: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    /// Names of the plans switched off.
    public var disabledPlans: [String]
    /// Names of the plans left on (the SKU's user plans minus `disabledPlans`).
    public var enabledPlans: [String]
    /// The policies granting it.
    public var policies: [String]
    /// The highest priority among them: the order adds are sent in, and served when seats are short.
    public var priority: Int
    /// In a policy impact: whether the proposed policies cause this add.
    public var cause: ChangeCause? = nil
}

/// A held SKU re-added with other plans.
public struct PlanChange: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    /// Plans switched on by the change (names).
    public var enable: [String]
    /// Plans switched off by the change (names).
    public var disable: [String]
    /// The plans on after the change (names).
    public var enabledPlans: [String]
    public var policies: [String]
    /// In a policy impact: whether the proposed policies cause this plan change.
    public var cause: ChangeCause? = nil
}

/// A directly assigned SKU removed from a user.
public struct LicenseRemoval: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var reason: RemovalReason
    /// For `replaced`: the SKUs replacing it.
    public var replacedBy: [String]
    /// Whether the removal frees a seat (false when a group still grants the SKU to the user).
    public var freesSeat: Bool
    /// In a policy impact: whether the proposed policies cause this removal.
    public var cause: ChangeCause? = nil
    /// In a policy impact, for a removal the proposed policies cause: the base policies that
    /// granted the SKU to the user.
    public var grantedBefore: [String]? = nil
}

/// An add that was not sent because seats ran out.
public struct DeferredAdd: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    public var sku: String
    public var skuId: GUID
    /// The highest priority among the policies granting it.
    public var priority: Int
    public var policies: [String]
    public var reason: String
}

/// A user Allot leaves alone this cycle.
public struct SkippedUser: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    public var reason: SkipReason
    public var detail: String
}

/// Why a directly assigned SKU is removed (`reason` in the plan format).
public enum RemovalReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// No matching policy grants it.
    case notGranted
    /// A granted SKU replaces it (`replacedBy`).
    case replaced
}

/// Why a user is left alone this cycle (`reason` in the plan format and `users.skipped`).
public enum SkipReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// Needs a license, has no usage location, and no default is configured.
    case noUsageLocation
    /// An earlier call for the user failed; it is retried when its backoff has passed.
    case backoff
}

/// A removal waiting for `removalDelay`.
public struct DelayedRemoval: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    public var sku: String
    public var skuId: GUID
    /// Seconds since the epoch when the pair was first seen pending removal.
    public var pendingSince: Int64
    /// Seconds since the epoch from which the removal will be sent.
    public var removableFrom: Int64
}

/// A removal the plan holds back instead of sending: the group shrink hold keeps the license
/// until a suddenly smaller membership is confirmed, and a tripped mass-removal guard holds
/// every removal of the cycle.
public struct HeldRemoval: Sendable, Hashable, Codable {
    /// What holds a removal back.
    public enum Cause: String, Sendable, Hashable, Codable {
        /// A group a policy granting the SKU names shrank suddenly (`reconcile.guard.groupShrinkPercent`).
        case groupShrink
        /// The cycle would remove more than `reconcile.guard.maxRemovals` or `maxRemovalPercent` allow.
        case massRemovalGuard
    }

    public var userId: GUID
    public var userPrincipalName: String
    public var sku: String
    public var skuId: GUID
    public var heldBy: Cause
    /// For `groupShrink`: the shrunk groups (object ids) the user would keep the SKU through.
    public var groups: [GUID]
    /// For `groupShrink`: the policies naming those groups that grant the SKU.
    public var policies: [String]
    /// Why it is held and what releases it: for people, and the guard's own reason for `massRemovalGuard`.
    public var reason: String
}

/// A desired SKU a user holds only through group-based licensing.
public struct GroupHeldLicense: Sendable, Hashable, Codable {
    public var userId: GUID
    public var userPrincipalName: String
    public var sku: String
    public var skuId: GUID
    public var groups: [GUID]
}

/// What the mass-removal guard decided.
public struct GuardOutcome: Sendable, Hashable, Codable {
    public var tripped: Bool
    /// Direct removals the cycle wanted to send.
    public var removals: Int
    public var maxRemovals: Int
    public var maxRemovalPercent: Double
    /// The managed licenses assigned (sum of `consumedUnits` over managed SKUs).
    public var managedLicensesAssigned: Int
    /// Whether `--allow-mass-removal` let a tripping cycle through.
    public var overridden: Bool
    /// Why it tripped, for people and for `/readyz`.
    public var reason: String?

    /// Whether the guard holds this cycle's removals back: tripped, and not overridden.
    public var holdsRemovals: Bool { tripped && !overridden }
}

/// Seats of one managed SKU before and after the plan.
public struct SeatCount: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var prepaid: Int
    public var consumedBefore: Int
    public var consumedAfter: Int
    public var availableBefore: Int
    public var availableAfter: Int
    public var deferredAdds: Int
    /// Seats the plan's adds take (adds sent; deferred adds take none).
    public var seatsAdded = 0
    /// Seats the plan's removals free (a removal of a SKU a group still grants frees none).
    public var seatsFreed = 0
}

/// When each (user, SKU) pair was first seen pending removal, in seconds since the epoch.
public struct RemovalHistory: Sendable, Hashable, Codable {
    public var firstSeen: [PendingRemoval: Int64]

    public init(firstSeen: [PendingRemoval: Int64] = [:]) {
        self.firstSeen = firstSeen
    }
}

/// A (user, SKU) pair pending removal.
public struct PendingRemoval: Sendable, Hashable, Codable, Comparable {
    public var user: GUID
    public var sku: GUID

    public init(user: GUID, sku: GUID) {
        self.user = user
        self.sku = sku
    }

    public static func < (lhs: PendingRemoval, rhs: PendingRemoval) -> Bool {
        (lhs.user, lhs.sku) < (rhs.user, rhs.sku)
    }
}
