extension TenantModel {
    /// What `delta` changes for planning, without changing the model: the users to read and
    /// plan again (with why), the users deleted, or why only a full read can tell.
    ///
    /// Membership is the referenced groups' transitive user membership. A user added to a
    /// referenced group, or to a group nested in one (``GroupInfo/nestedGroups``), joins it.
    /// A user removed from a referenced group without nested groups leaves it. A removal from
    /// a group with nested groups (or nested in one) is not decided here: the user may still
    /// be a member through another nested group, which delta does not say (it reports direct
    /// membership only), so a full read is needed; so it is when nesting itself changes.
    /// Nesting cycles need no care: ``GroupInfo/nestedGroups`` is the read's flat set.
    public func effect(of delta: TenantDelta) -> DeltaEffect {
        var effect = DeltaEffect()
        let owners = referencedGroupsContaining()
        for change in delta.memberships.values.sorted(by: { ($0.group, $0.member) < ($1.group, $1.member) }) {
            guard let referenced = owners[change.group] else { continue }
            switch change.memberKind {
            case .group:
                let name = referenced.map { groups[$0].displayName }.joined(separator: ", ")
                effect.fullReadNeeded =
                    "the groups nested in \(name) changed (group \(change.member) \(change.added ? "added to" : "removed from") \(change.group))"
            case .other:
                continue
            case .user:
                guard userIndex(for: change.member) != nil || delta.changedUsers[change.member] != nil,
                    !delta.removedUsers.contains(change.member)
                else { continue }
                for group in referenced {
                    if change.added {
                        effect.affected[change.member, default: []].append(.joined(group: groups[group].displayName))
                    } else if groups[group].nestedGroups.isEmpty {
                        effect.affected[change.member, default: []].append(.left(group: groups[group].displayName))
                    } else {
                        effect.fullReadNeeded =
                            "user \(change.member) left group \(change.group), which is or is nested in '\(groups[group].displayName)' with nested groups: "
                            + "whether they are still a member through another nested group takes a full read"
                    }
                }
            }
        }
        for id in delta.removedUsers where userIndex(for: id) != nil {
            effect.deleted.insert(id)
        }
        for (id, user) in delta.changedUsers {
            guard let index = userIndex(for: id) else {
                effect.affected[id, default: []].append(.created)
                continue
            }
            if differs(user, fromUserAt: index) { effect.affected[id, default: []].append(.attributesChanged) }
        }
        for id in effect.affected.keys { effect.affected[id]!.sort() }
        return effect
    }

    /// Applies `delta` in place: deleted users dropped, new users added (without licenses:
    /// ``update(_:)`` sets them), changed attributes set, memberships of referenced groups
    /// added and removed. Call it only when ``effect(of:)`` needs no full read: the removals
    /// it could not decide are left as they are.
    public mutating func apply(_ delta: TenantDelta) {
        let owners = referencedGroupsContaining()
        let removed = delta.removedUsers.compactMap { userIndex(for: $0) }
        let created = delta.changedUsers.values.filter { userIndex(for: $0.id) == nil }
        if !removed.isEmpty || !created.isEmpty { replaceUsers(removing: Set(removed), inserting: created) }
        update(delta.changedUsers.values.filter { userIndex(for: $0.id) != nil }, licenses: false)
        for change in delta.memberships.values where change.memberKind == .user {
            guard let referenced = owners[change.group], let user = userIndex(for: change.member) else { continue }
            var set = Set(groupSets[Int(groupSetOfUser[user])])
            for group in referenced {
                if change.added {
                    set.insert(Int32(group))
                } else if groups[group].nestedGroups.isEmpty {
                    set.remove(Int32(group))
                }
            }
            groupSetOfUser[user] = internGroupSet(set.sorted())
        }
    }

    /// Sets these users' user principal names, attributes and (with `licenses`) license
    /// holdings to what Graph returned, as a fast pass's user reads answer. Users the model
    /// does not hold are ignored.
    public mutating func update(_ users: some Sequence<DirectoryUser>, licenses: Bool = true) {
        var renamed: [Int: String] = [:]
        let width = columns.paths.count
        let dateWidth = columns.dateColumns.count
        for user in users {
            guard let index = userIndex(for: user.id) else { continue }
            if principalNames[index] != user.userPrincipalName { renamed[index] = user.userPrincipalName }
            for (column, path) in columns.paths.enumerated() {
                let value = columns.append(user.property(at: path), column: column)
                columns.indices[index * width + column] = value.index
                if let slot = columns.dateSlot[column] { columns.instants[index * dateWidth + slot] = value.instant }
            }
            if licenses {
                holdingOfUser[index] = internHolding(
                    LicenseHolding(assignedLicenses: user.assignedLicenses, states: user.licenseAssignmentStates)
                )
            }
        }
        if !renamed.isEmpty { principalNames = principalNames.replacing(renamed) }
    }

    /// Replaces the subscribed SKUs (seat counts) with a fresh read.
    public mutating func replaceSubscribedSkus(_ skus: [SubscribedSku]) {
        subscribedSkus = skus
    }

    /// Per group id, the referenced groups (indices) it counts towards: itself and those it is nested in.
    private func referencedGroupsContaining() -> [GUID: [Int]] {
        var owners: [GUID: [Int]] = [:]
        for (index, group) in groups.enumerated() {
            owners[group.id, default: []].append(index)
            for nested in group.nestedGroups where nested != group.id { owners[nested, default: []].append(index) }
        }
        return owners
    }

    /// Whether a user's user principal name or attributes differ from the model's.
    private func differs(_ user: DirectoryUser, fromUserAt index: Int) -> Bool {
        if principalNames[index] != user.userPrincipalName { return true }
        for (column, path) in columns.paths.enumerated() {
            let value = user.property(at: path)
            let missing = value?.isMissing ?? true
            if missing != (columns.valueIndex(ofUser: index, column: column) == 0) { return true }
            if !missing, columns.value(ofUser: index, column: column) != value { return true }
        }
        return false
    }

    private mutating func internHolding(_ holding: LicenseHolding) -> UInt32 {
        if let index = holdings.firstIndex(of: holding) { return UInt32(index) }
        holdings.append(holding)
        return UInt32(holdings.count - 1)
    }

    private mutating func internGroupSet(_ set: [Int32]) -> UInt32 {
        if let index = groupSets.firstIndex(of: set) { return UInt32(index) }
        groupSets.append(set)
        return UInt32(groupSets.count - 1)
    }

    /// Drops and inserts users in one merge pass over the per-user columns, keeping users sorted
    /// by id. New users have no licenses and no groups yet.
    private mutating func replaceUsers(removing removed: Set<Int>, inserting created: [DirectoryUser]) {
        let inserted = created.sorted { $0.id < $1.id }
        let width = columns.paths.count
        let noLicenses = internHolding(LicenseHolding(assignedLicenses: [], states: []))
        let count = userIDs.count - removed.count + inserted.count
        var ids: [GUID] = []
        var names = StringColumn()
        var indices: [UInt32] = []
        let dateWidth = columns.dateColumns.count
        var instants: [Int64] = []
        var holdingIndices: [UInt32] = []
        var setIndices: [UInt32] = []
        ids.reserveCapacity(count)
        names.reserveCapacity(strings: count, bytes: principalNames.byteCount + inserted.count * 32)
        indices.reserveCapacity(count * width)
        instants.reserveCapacity(count * dateWidth)
        holdingIndices.reserveCapacity(count)
        setIndices.reserveCapacity(count)
        var next = 0
        func takeNew(_ user: DirectoryUser) {
            ids.append(user.id)
            names.append(user.userPrincipalName)
            var dates = [Int64](repeating: AttributeColumns.noInstant, count: dateWidth)
            for (column, path) in columns.paths.enumerated() {
                let value = columns.append(user.property(at: path), column: column)
                indices.append(value.index)
                if let slot = columns.dateSlot[column] { dates[slot] = value.instant }
            }
            instants.append(contentsOf: dates)
            holdingIndices.append(noLicenses)
            setIndices.append(0)
        }
        for old in userIDs.indices {
            while next < inserted.count, inserted[next].id < userIDs[old] {
                takeNew(inserted[next])
                next += 1
            }
            guard !removed.contains(old) else { continue }
            ids.append(userIDs[old])
            names.append(principalNames.bytes(at: old))
            indices.append(contentsOf: columns.indices[old * width..<(old + 1) * width])
            instants.append(contentsOf: columns.instants[old * dateWidth..<(old + 1) * dateWidth])
            holdingIndices.append(holdingOfUser[old])
            setIndices.append(groupSetOfUser[old])
        }
        while next < inserted.count {
            takeNew(inserted[next])
            next += 1
        }
        userIDs = ids
        principalNames = names
        columns.indices = indices
        columns.instants = instants
        holdingOfUser = holdingIndices
        groupSetOfUser = setIndices
    }
}
