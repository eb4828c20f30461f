extension Snapshot {
    /// This snapshot with what identifies people taken out, so that it can live in a repository
    /// (`allot snapshot --redact`, docs/snapshot-format.md "Redacted snapshots").
    ///
    /// Kept: object ids, usage locations, licenses, the SKUs, the referenced groups (their names,
    /// which policies name them by) with their members, and exactly the properties in
    /// ``attributes`` (those the policies test). Replaced: every user principal name by a stable
    /// pseudonym derived from the object id (`u-<16 hex digits>@redacted.invalid`, the same in
    /// every snapshot of the tenant), unless a policy tests `userPrincipalName`. Dropped: the
    /// tenant's name. Plans and explanations over the redacted snapshot equal those over the
    /// original.
    public func redacted() -> Snapshot {
        var copy = self
        copy.tenant = nil
        let kept = Set(attributes)
        let keepPrincipalNames = kept.contains("userPrincipalName")
        copy.users = users.map { user in
            var user = user
            if !keepPrincipalNames { user.userPrincipalName = Self.pseudonym(for: user.id) }
            user.properties = Self.keeping(attributes, of: user.properties)
            return user
        }
        return copy
    }

    /// The parts of `object` at the dotted `paths`: whole values at a path's end, and of an
    /// object on the way only the members a path goes through.
    static func keeping(_ paths: [String], of object: [String: JSONValue]) -> [String: JSONValue] {
        var kept: [String: JSONValue] = [:]
        let byRoot = Dictionary(grouping: paths) { String($0.prefix { $0 != "." }) }
        for (root, rootPaths) in byRoot {
            guard let value = object[root] else { continue }
            if rootPaths.contains(root) {
                kept[root] = value
            } else if case let .object(members) = value {
                kept[root] = .object(keeping(rootPaths.map { String($0.dropFirst(root.count + 1)) }, of: members))
            }
        }
        return kept
    }

    /// A stable pseudonym for a user: 64-bit FNV-1a of the object id, in hex.
    static func pseudonym(for id: GUID) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.description.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return "u-" + String(repeating: "0", count: 16 - digits.count) + digits + "@redacted.invalid"
    }
}
