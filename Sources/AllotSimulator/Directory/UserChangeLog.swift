import AllotCore

/// What users delta needs beyond each user's change version in the store: which tracked
/// properties changed in which directory version (for `$select` and `Prefer: return=minimal`),
/// which users were created, and which were removed.
///
/// License holdings and sign-in activity are never recorded: Graph's users delta does not
/// track them (graph-facts §5, §10).
struct UserChangeLog: Sendable {
    /// A deleted user, as a later delta round reports them.
    struct Removal: Sendable, Equatable {
        let id: GUID
        let version: UInt64
        /// `deleted` (gone for good) rather than `changed` (restorable from deleted items).
        let permanent: Bool
    }

    /// By user id: the version each property last changed in.
    private var propertyVersions: [GUID: [String: UInt64]] = [:]
    /// By user id: the version the user was created in (through Graph or the control API).
    private var creations: [GUID: UInt64] = [:]
    /// Every deletion, oldest first.
    private(set) var removals: [Removal] = []
    /// Users deleted but restorable (Graph's deleted items), which a permanent deletion ends.
    private(set) var softDeleted: Set<GUID> = []

    mutating func recordCreation(of id: GUID, in version: UInt64) {
        creations[id] = version
    }

    mutating func recordChange(of property: String, for id: GUID, in version: UInt64) {
        propertyVersions[id, default: [:]][property] = version
    }

    mutating func recordRemoval(of id: GUID, in version: UInt64, permanent: Bool) {
        propertyVersions[id] = nil
        creations[id] = nil
        if permanent { softDeleted.remove(id) } else { softDeleted.insert(id) }
        removals.append(Removal(id: id, version: version, permanent: permanent))
    }

    /// Which of `properties` changed after `since`: all of them when the user was created after it.
    func changed(_ properties: [String], of id: GUID, since: UInt64) -> [String] {
        if let created = creations[id], created > since { return properties }
        guard let versions = propertyVersions[id] else { return [] }
        return properties.filter { (versions[$0] ?? 0) > since }
    }

    /// The removals in `(since, through]`, each user once with their last reason, in the order
    /// of those last removals. Bounded above, so the list stays the same while a round pages.
    func removals(since: UInt64, through: UInt64) -> [Removal] {
        let inRange = removals.filter { $0.version > since && $0.version <= through }
        var last: [GUID: Int] = [:]
        for (position, removal) in inRange.enumerated() { last[removal.id] = position }
        return inRange.enumerated().filter { last[$0.element.id] == $0.offset }.map(\.element)
    }
}
