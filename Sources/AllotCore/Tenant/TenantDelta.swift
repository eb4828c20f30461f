/// What Graph's delta queries reported in one round (`/users/delta` and `/groups/delta`),
/// folded so that each object appears once, as its last change left it.
///
/// Licenses are not in it: Graph's user delta does not track `assignedLicenses` or
/// `licenseAssignmentStates`, so a fast pass reads the affected users' licenses itself and
/// the full cycle stays the authority for license drift.
public struct TenantDelta: Sendable, Hashable {
    /// Users created, or whose tracked properties changed, with the values delta sent.
    public private(set) var changedUsers: [GUID: DirectoryUser] = [:]
    /// Users reported `@removed` (deleted, restorable or for good).
    public private(set) var removedUsers: Set<GUID> = []
    /// Direct membership changes, one per (group, member), the last one reported.
    public private(set) var memberships: [MembershipKey: MembershipChange] = [:]

    public init() {}

    /// Whether the round reported nothing at all.
    public var isEmpty: Bool { changedUsers.isEmpty && removedUsers.isEmpty && memberships.isEmpty }

    /// A user entry of a users delta page: created or changed.
    public mutating func userChanged(_ user: DirectoryUser) {
        removedUsers.remove(user.id)
        changedUsers[user.id] = user
    }

    /// A user entry carrying `@removed`.
    public mutating func userRemoved(_ id: GUID) {
        changedUsers[id] = nil
        removedUsers.insert(id)
    }

    /// A `members@delta` entry of a group: a member added, or (`@removed`) removed.
    public mutating func membership(_ change: MembershipChange) {
        memberships[MembershipKey(group: change.group, member: change.member)] = change
    }
}

/// A (group, member) pair.
public struct MembershipKey: Sendable, Hashable {
    public var group: GUID
    public var member: GUID

    public init(group: GUID, member: GUID) {
        self.group = group
        self.member = member
    }
}

/// One `members@delta` entry: a direct member of a group added or removed.
public struct MembershipChange: Sendable, Hashable {
    /// What kind of object the member is (its `@odata.type`).
    public enum MemberKind: Sendable, Hashable { case user, group, other }

    public var group: GUID
    public var member: GUID
    public var memberKind: MemberKind
    /// `true` for an addition, `false` for `@removed`.
    public var added: Bool

    public init(group: GUID, member: GUID, memberKind: MemberKind, added: Bool) {
        self.group = group
        self.member = member
        self.memberKind = memberKind
        self.added = added
    }
}

/// Why a fast pass looks at a user again (the `fastpath.changes` event's reasons).
public enum ChangeReason: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Added to a referenced group, directly or through a group nested in it.
    case joined(group: String)
    /// Removed from a referenced group.
    case left(group: String)
    /// A property the policies test (or the user principal name) changed.
    case attributesChanged
    /// A new user.
    case created
    /// Deleted: dropped from the model, nothing to plan.
    case deleted

    public var description: String {
        switch self {
        case .joined(let group): "joined \(group)"
        case .left(let group): "left \(group)"
        case .attributesChanged: "attributes changed"
        case .created: "created"
        case .deleted: "deleted"
        }
    }
}

/// What a ``TenantDelta`` means for a ``TenantModel``: the users to read and plan again, or
/// why only a full read can tell.
public struct DeltaEffect: Sendable, Hashable {
    /// Users (existing or new, not deleted) whose wanted licenses may have changed, with why.
    public var affected: [GUID: [ChangeReason]] = [:]
    /// Users of the model that were deleted.
    public var deleted: Set<GUID> = []
    /// Set when the delta cannot be applied exactly (membership through nested groups lost,
    /// nesting changed): the fast pass falls back to a full cycle.
    public var fullReadNeeded: String?
}
