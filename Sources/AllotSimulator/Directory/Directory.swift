import AllotCore

/// The simulated tenant's state: users, groups and subscriptions, and the version counter that
/// users delta reads.
///
/// A plain value; ``GraphSimulator`` keeps it behind a lock and every Graph handler reads or
/// changes it in one critical section.
struct Directory: Sendable {
    let tenantId: String
    let tenantDomain: String
    /// Passed through to exported snapshots.
    var attributes: [String]
    // Settable in the module: the membership and assignment extensions change them.
    var users = UserStore()
    var groups: [GroupRecord] = []
    private(set) var groupIndex: [GUID: Int] = [:]
    private(set) var skus: [SkuRecord] = []
    private(set) var skuIndex: [GUID: Int] = [:]
    /// How many users hold each SKU (by ``skus`` index), kept as holdings change.
    var holders: [Int] = []
    /// Bumped by every change; users remember the version of their last change.
    var version: UInt64 = 1
    /// Every membership change made through Graph, oldest first: advanced queries undo the
    /// recent ones (the consistency lag), and a membership delta could report them.
    var membershipChanges: [MembershipChange] = []
    /// What users delta reports: tracked property changes, creations and deletions.
    var userChanges = UserChangeLog()
    /// `PATCH`es not yet visible (the consistency lag), oldest first.
    var pendingWrites: [PendingUserWrite] = []

    init(tenantId: String, tenantDomain: String, attributes: [String] = []) {
        self.tenantId = tenantId
        self.tenantDomain = tenantDomain
        self.attributes = attributes
    }

    /// Loads a snapshot document.
    init(snapshot: Snapshot, tenantId: String, tenantDomain: String) throws(DirectoryLoadError) {
        self.init(tenantId: tenantId, tenantDomain: tenantDomain, attributes: snapshot.attributes)
        users.reserveCapacity(snapshot.users.count)
        for user in snapshot.users { try addUser(user) }
        for group in snapshot.groups { try addGroup(group) }
        for sku in snapshot.subscribedSkus { try addSku(sku) }
    }

    // MARK: Loading

    mutating func reserveCapacity(users count: Int) {
        users.reserveCapacity(count)
    }

    mutating func addUser(_ user: DirectoryUser) throws(DirectoryLoadError) {
        try users.add(user, version: 0)
        for sku in users.holding(ofUser: users.count - 1).held {
            if let index = skuIndex[sku] { holders[index] += 1 }
        }
    }

    /// Adds a group; `members` are user ids (transitive), `memberGroups` direct nested groups,
    /// which may be added later.
    mutating func addGroup(_ group: DirectoryGroup) throws(DirectoryLoadError) {
        guard groupIndex[group.id] == nil else { throw .duplicateGroupId(group.id) }
        let members = group.members.compactMap { users.index(ofId: $0).map(Int32.init) }
        groups.append(
            GroupRecord(
                id: group.id,
                displayName: group.displayName,
                visibility: group.visibility,
                members: members,
                memberGroupIds: group.memberGroups ?? []
            )
        )
        groupIndex[group.id] = groups.count - 1
    }

    /// Adds a group whose members are given as user indices (the generator's fast path).
    mutating func addGroup(
        id: GUID,
        displayName: String,
        visibility: String?,
        memberIndices: [Int32],
        memberGroups: [GUID]
    ) throws(DirectoryLoadError) {
        guard groupIndex[id] == nil else { throw .duplicateGroupId(id) }
        groups.append(
            GroupRecord(
                id: id,
                displayName: displayName,
                visibility: visibility,
                members: memberIndices,
                memberGroupIds: memberGroups
            )
        )
        groupIndex[id] = groups.count - 1
    }

    /// Adds a subscription. Its consumed units are the users that hold it, or the snapshot's
    /// figure when that is higher (seats held by users the snapshot left out).
    mutating func addSku(_ sku: SubscribedSku) throws(DirectoryLoadError) {
        guard skuIndex[sku.skuId] == nil else { throw .duplicateSkuId(sku.skuId) }
        var count = 0
        for user in 0..<users.count where users.holding(ofUser: user).holds(sku.skuId) { count += 1 }
        skus.append(SkuRecord(sku: sku, extraConsumed: max(0, sku.consumedUnits - count)))
        skuIndex[sku.skuId] = skus.count - 1
        holders.append(count)
    }

    // MARK: Reading

    func consumedUnits(ofSku index: Int) -> Int {
        holders[index] + skus[index].extraConsumed
    }

    func availableUnits(ofSku index: Int) -> Int {
        skus[index].sku.prepaidUnits.enabled - consumedUnits(ofSku: index)
    }

    /// The subscription as Graph shows it now.
    func subscribedSku(_ index: Int) -> SubscribedSku {
        var sku = skus[index].sku
        sku.consumedUnits = consumedUnits(ofSku: index)
        if sku.id == nil { sku.id = "\(tenantId)_\(sku.skuId)" }
        return sku
    }

    /// Every group nested in this one, at any depth (each once).
    func nestedGroups(of group: Int) -> [Int] {
        var seen: Set<Int> = [group]
        var result: [Int] = []
        var pending = groups[group].memberGroupIds.compactMap { groupIndex[$0] }
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            result.append(next)
            pending.append(contentsOf: groups[next].memberGroupIds.compactMap { groupIndex[$0] })
        }
        return result.sorted()
    }

    /// The current state as a snapshot document.
    func snapshot() -> Snapshot {
        Snapshot(
            tenant: tenantId,
            attributes: attributes,
            subscribedSkus: skus.indices.map(subscribedSku),
            groups: groups.map {
                DirectoryGroup(
                    id: $0.id,
                    displayName: $0.displayName,
                    members: $0.members.map { users.ids[Int($0)] },
                    memberGroups: $0.memberGroupIds,
                    visibility: $0.visibility
                )
            },
            users: (0..<users.count).map(users.directoryUser)
        )
    }

    // MARK: Changing

    /// Replaces a user's license sources, keeping the seat counts right. Users delta does not
    /// report it: Graph does not track license changes (graph-facts §5, §10).
    mutating func setLicenses(_ states: [LicenseAssignmentState], ofUser user: Int) {
        let before = users.holding(ofUser: user).held
        users.setHolding(states, ofUser: user)
        let after = users.holding(ofUser: user).held
        for sku in before where !after.contains(sku) {
            if let index = skuIndex[sku] { holders[index] -= 1 }
        }
        for sku in after where !before.contains(sku) {
            if let index = skuIndex[sku] { holders[index] += 1 }
        }
    }

    /// Sets a property; users delta reports the change unless Graph does not track the property.
    mutating func setProperty(_ name: String, to value: JSONValue?, ofUser user: Int) {
        version += 1
        let tracked = !UserProperties.untrackedByDelta.contains(name)
        users.setProperty(name, to: value, ofUser: user, trackedIn: tracked ? version : nil)
        if tracked { userChanges.recordChange(of: name, for: users.ids[user], in: version) }
    }

    /// Creates a user (`POST /users`, the control API); users delta reports them whole.
    mutating func createUser(_ user: DirectoryUser) throws(DirectoryLoadError) {
        version += 1
        try users.add(user, version: version)
        for sku in users.holding(ofUser: users.count - 1).held {
            if let index = skuIndex[sku] { holders[index] += 1 }
        }
        userChanges.recordCreation(of: user.id, in: version)
    }

    /// Ends a soft-deleted user for good (as deleting it from Graph's deleted items does);
    /// returns whether the id was a soft-deleted user.
    mutating func purgeDeletedUser(_ id: GUID) -> Bool {
        guard userChanges.softDeleted.contains(id) else { return false }
        version += 1
        userChanges.recordRemoval(of: id, in: version, permanent: true)
        return true
    }
}

/// A group and its members, as user indices.
struct GroupRecord: Sendable {
    let id: GUID
    let displayName: String
    /// `Public`, `Private`, `HiddenMembership` or `nil`.
    let visibility: String?
    /// Every user member, directly or through nested groups.
    var members: [Int32]
    /// Groups nested directly inside this one.
    let memberGroupIds: [GUID]
    /// The direct user members, once a membership write has touched this group or one nested
    /// in it. Until then they are derived: the members no nested group brings in (a snapshot
    /// holds no more than that).
    var directUsers: Set<Int32>?

    init(id: GUID, displayName: String, visibility: String?, members: [Int32], memberGroupIds: [GUID]) {
        self.id = id
        self.displayName = displayName
        self.visibility = visibility
        self.members = members
        self.memberGroupIds = memberGroupIds
    }

    /// Whether only callers with `Member.Read.Hidden` may list the members.
    var hidesMembership: Bool { visibility?.lowercased() == "hiddenmembership" }
}

/// A subscription and what the simulator needs to validate assignments against it.
struct SkuRecord: Sendable {
    let sku: SubscribedSku
    /// Seats the snapshot counted beyond the users it holds.
    let extraConsumed: Int
    let planIds: Set<GUID>

    init(sku: SubscribedSku, extraConsumed: Int) {
        self.sku = sku
        self.extraConsumed = extraConsumed
        planIds = Set(sku.servicePlans.map(\.servicePlanId))
    }
}
