import AllotCore

/// One change to a group's membership made through Graph (an administrator adding or removing
/// a member, or deleting a user).
struct MembershipChange: Sendable {
    /// Which listing the change shows in: `members` or `transitiveMembers`.
    enum Relation: Sendable { case direct, transitive }

    let group: GUID
    let user: GUID
    let added: Bool
    let relation: Relation
    let version: UInt64
    let at: ContinuousClock.Instant
}

extension Directory {
    // MARK: Reading members

    /// Groups nested directly inside this one.
    func childGroups(of group: Int) -> [Int] {
        groups[group].memberGroupIds.compactMap { groupIndex[$0] }
    }

    /// Every group this one is nested in, at any depth (each once).
    func ancestors(of group: Int) -> [Int] {
        var seen: Set<Int> = [group]
        var result: [Int] = []
        var pending = [group]
        while let next = pending.popLast() {
            for parent in groups.indices where childGroups(of: parent).contains(next) && seen.insert(parent).inserted {
                result.append(parent)
                pending.append(parent)
            }
        }
        return result
    }

    /// Whether a user is a direct member of a group.
    func isDirectMember(_ user: Int32, of group: Int) -> Bool {
        if let direct = groups[group].directUsers { return direct.contains(user) }
        guard groups[group].members.contains(user) else { return false }
        return !childGroups(of: group).contains { groups[$0].members.contains(user) }
    }

    /// The user members a listing shows: every user below the group, or its direct ones (in
    /// the group's member order).
    func memberUsers(of group: Int, transitive: Bool) -> [Int32] {
        let members = groups[group].members
        if transitive { return members }
        if let direct = groups[group].directUsers { return members.filter { direct.contains($0) } }
        var inNested = Set<Int32>()
        for child in childGroups(of: group) { inNested.formUnion(groups[child].members) }
        return members.filter { !inNested.contains($0) }
    }

    /// The user members as the lagging index of advanced queries sees them: the changes made
    /// after `cutoff` undone.
    func memberUsers(of group: Int, transitive: Bool, asOf cutoff: ContinuousClock.Instant) -> [Int32] {
        var result = memberUsers(of: group, transitive: transitive)
        let id = groups[group].id
        let relation: MembershipChange.Relation = transitive ? .transitive : .direct
        for change in membershipChanges.reversed() {
            guard change.at > cutoff else { break }
            guard change.group == id, change.relation == relation,
                let user = users.index(ofId: change.user).map(Int32.init)
            else { continue }
            if change.added {
                result.removeAll { $0 == user }
            } else if !result.contains(user) {
                result.append(user)
            }
        }
        return result
    }

    // MARK: Changing members

    /// `POST /groups/{id}/members/$ref` for a user.
    mutating func addMember(user: Int, to group: Int, at now: ContinuousClock.Instant) throws(GraphError) {
        let member = Int32(user)
        guard !isDirectMember(member, of: group) else {
            throw .badRequest(
                "One or more added object references already exist for the following modified properties: 'members'."
            )
        }
        let affected = [group] + ancestors(of: group)
        recordDirectUsers(of: affected)
        version += 1
        groups[group].directUsers?.insert(member)
        log(member, group: group, added: true, relation: .direct, at: now)
        for index in affected where !groups[index].members.contains(member) {
            groups[index].members.append(member)
            log(member, group: index, added: true, relation: .transitive, at: now)
        }
    }

    /// `DELETE /groups/{id}/members/{memberId}/$ref` for a user: ends the direct membership;
    /// the user stays a transitive member wherever a nested group still brings them in.
    /// - Parameter key: the member id as the request named it, for the 404.
    mutating func removeMember(
        user: Int,
        from group: Int,
        key: String,
        at now: ContinuousClock.Instant
    ) throws(GraphError) {
        let member = Int32(user)
        guard isDirectMember(member, of: group) else { throw .notFound(key) }
        let affected = [group] + ancestors(of: group)
        recordDirectUsers(of: affected)
        version += 1
        groups[group].directUsers?.remove(member)
        log(member, group: group, added: false, relation: .direct, at: now)
        for index in affected where !reaches(member, from: index) {
            groups[index].members.removeAll { $0 == member }
            log(member, group: index, added: false, relation: .transitive, at: now)
        }
    }

    /// `DELETE /users/{id}`: the user leaves every group, frees their seats and is gone; later
    /// calls for them answer 404. Users delta reports them removed, `permanent`ly (`deleted`)
    /// or restorable (`changed`, what `DELETE /users/{id}` does).
    mutating func deleteUser(_ user: Int, at now: ContinuousClock.Instant, permanently: Bool = false) {
        let member = Int32(user)
        let id = users.ids[user]
        let directOf = groups.indices.filter { isDirectMember(member, of: $0) }
        version += 1
        for group in directOf { log(member, group: group, added: false, relation: .direct, at: now) }
        for group in groups.indices where groups[group].members.contains(member) {
            log(member, group: group, added: false, relation: .transitive, at: now)
        }
        for sku in users.holding(ofUser: user).held {
            if let index = skuIndex[sku] { holders[index] -= 1 }
        }
        users.remove(user)
        let moveDown = { (index: Int32) in index > member ? index - 1 : index }
        for group in groups.indices {
            groups[group].members = groups[group].members.compactMap { $0 == member ? nil : moveDown($0) }
            groups[group].directUsers = groups[group].directUsers.map {
                Set($0.compactMap { $0 == member ? nil : moveDown($0) })
            }
        }
        userChanges.recordRemoval(of: id, in: version, permanent: permanently)
    }

    /// Fixes the derived direct members of these groups before a change to the members of the
    /// groups below them would alter the derivation.
    private mutating func recordDirectUsers(of affected: [Int]) {
        let direct = affected.map { index in groups[index].directUsers ?? Set(memberUsers(of: index, transitive: false))
        }
        for (index, users) in zip(affected, direct) { groups[index].directUsers = users }
    }

    /// Whether the group or a group nested in it still has the user as a direct member.
    private func reaches(_ user: Int32, from group: Int) -> Bool {
        ([group] + nestedGroups(of: group)).contains { isDirectMember(user, of: $0) }
    }

    private mutating func log(
        _ user: Int32,
        group: Int,
        added: Bool,
        relation: MembershipChange.Relation,
        at now: ContinuousClock.Instant
    ) {
        membershipChanges.append(
            MembershipChange(
                group: groups[group].id,
                user: users.ids[Int(user)],
                added: added,
                relation: relation,
                version: version,
                at: now
            )
        )
    }
}

/// One entry of a group's `members@delta`: a direct member (user or nested group), added or removed.
struct MemberDeltaEntry: Sendable, Equatable {
    let id: GUID
    let isGroup: Bool
    let removed: Bool
}

extension Directory {
    /// The group's direct members as they were at `version` (changes made since undone), users
    /// and nested groups, ordered by id so that every page of a round sees the same list.
    func directMemberEntries(of group: Int, asOf version: UInt64) -> [MemberDeltaEntry] {
        var users = Set(memberUsers(of: group, transitive: false).map { self.users.ids[Int($0)] })
        let id = groups[group].id
        for change in membershipChanges[firstChange(after: version)...].reversed()
        where change.group == id && change.relation == .direct {
            if change.added { users.remove(change.user) } else { users.insert(change.user) }
        }
        let members =
            users.map { MemberDeltaEntry(id: $0, isGroup: false, removed: false) }
            + childGroups(of: group).map { MemberDeltaEntry(id: groups[$0].id, isGroup: true, removed: false) }
        return members.sorted { $0.id < $1.id }
    }

    /// The direct membership changes of a group in versions `(since, through]`: each member
    /// once, added or removed as its last change left it, in the order of those last changes.
    func directMemberChanges(of group: Int, since: UInt64, through: UInt64) -> [MemberDeltaEntry] {
        let id = groups[group].id
        let changes = membershipChanges[firstChange(after: since)...].prefix { $0.version <= through }
            .filter { $0.group == id && $0.relation == .direct }
        var last: [GUID: Int] = [:]
        for (position, change) in changes.enumerated() { last[change.user] = position }
        return changes.enumerated().filter { last[$0.element.user] == $0.offset }
            .map { MemberDeltaEntry(id: $0.element.user, isGroup: false, removed: !$0.element.added) }
    }

    /// Whether the group's direct membership changed in versions `(since, through]`.
    func hasDirectMemberChanges(_ group: Int, since: UInt64, through: UInt64) -> Bool {
        let id = groups[group].id
        return membershipChanges[firstChange(after: since)...].prefix { $0.version <= through }
            .contains { $0.group == id && $0.relation == .direct }
    }

    /// The position of the first membership change made after `version` (the log is in version order).
    private func firstChange(after version: UInt64) -> Int {
        var low = 0
        var high = membershipChanges.count
        while low < high {
            let middle = (low + high) / 2
            if membershipChanges[middle].version <= version { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
