/// Builds a ``TenantModel`` one user, group and SKU at a time, so that a reader can stream
/// Graph's pages (or a snapshot) into it without holding the decoded JSON.
///
/// Only the attributes named at creation are kept (plus `usageLocation`); values and
/// license holdings are interned as they arrive.
public struct TenantBuilder: Sendable {
    public let attributePaths: [String]
    private var tenant: String?
    private var takenAt: String?
    private var skus: [SubscribedSku] = []
    private var groups: [DirectoryGroup] = []
    private var nestedGroups: [GUID: Set<GUID>] = [:]
    private var userIDs: [GUID] = []
    private var principalNames = StringColumn()
    private var columnValues: [[JSONValue]]
    /// Row-major: a user's values, one per path, then the next user's.
    private var valueIndices: [UInt32] = []
    private var valueLookup: [[JSONValue: UInt32]]
    private var holdings: [LicenseHolding] = []
    private var holdingLookup: [LicenseHolding: UInt32] = [:]
    private var holdingOfUser: [UInt32] = []

    /// - Parameter attributes: the user properties to keep, dotted for nested objects.
    public init(tenant: String? = nil, takenAt: String? = nil, attributes: [String]) {
        var paths = ["usageLocation"]
        for path in attributes where !paths.contains(path) { paths.append(path) }
        attributePaths = paths
        self.tenant = tenant
        self.takenAt = takenAt
        columnValues = paths.map { _ in [.null] }
        valueLookup = paths.map { _ in [:] }
    }

    /// Makes room for this many users up front.
    public mutating func reserveCapacity(users: Int) {
        userIDs.reserveCapacity(users)
        principalNames.reserveCapacity(strings: users, bytes: users * 32)
        holdingOfUser.reserveCapacity(users)
        valueIndices.reserveCapacity(users * attributePaths.count)
    }

    public mutating func add(_ sku: SubscribedSku) { skus.append(sku) }
    /// Adds a referenced group with its transitive user members and, when the read saw them,
    /// the groups nested inside it at any depth (``GroupInfo/nestedGroups``).
    public mutating func add(_ group: DirectoryGroup, nestedGroups nested: Set<GUID> = []) {
        groups.append(group)
        if !nested.isEmpty { nestedGroups[group.id] = nested }
    }

    public mutating func add(_ user: DirectoryUser) {
        let values = attributePaths.map { user.property(at: $0) }
        let holding = internHolding(
            LicenseHolding(assignedLicenses: user.assignedLicenses, states: user.licenseAssignmentStates)
        )
        addUser(id: user.id, principalName: user.userPrincipalName, values: values, holding: holding)
    }

    /// Interns a license holding; pass the result to ``addUser(id:principalName:values:holding:)``.
    public mutating func internHolding(_ holding: LicenseHolding) -> UInt32 {
        if let index = holdingLookup[holding] { return index }
        let index = UInt32(holdings.count)
        holdings.append(holding)
        holdingLookup[holding] = index
        return index
    }

    /// Adds a user whose attribute values are given in ``attributePaths`` order (`nil`: missing).
    public mutating func addUser(id: GUID, principalName: String, values: [JSONValue?], holding: UInt32) {
        precondition(values.count == attributePaths.count, "one value per attribute path")
        appendUser(id: id, principalName: principalName, holding: holding)
        for column in values.indices {
            valueIndices.append(internValue(values[column], inColumn: column))
        }
    }

    /// Adds a user whose attribute values were interned with ``internValue(_:inColumn:)``, one
    /// index per path in ``attributePaths`` order. A reader that sees the same raw value again
    /// can reuse its index without building and hashing the value.
    public mutating func addUser(id: GUID, principalName: String, valueIndices indices: [UInt32], holding: UInt32) {
        precondition(indices.count == attributePaths.count, "one value index per attribute path")
        for column in indices.indices {
            precondition(Int(indices[column]) < columnValues[column].count, "a value index interned for this column")
        }
        appendUser(id: id, principalName: principalName, holding: holding)
        valueIndices.append(contentsOf: indices)
    }

    private mutating func appendUser(id: GUID, principalName: String, holding: UInt32) {
        userIDs.append(id)
        principalNames.append(principalName)
        holdingOfUser.append(holding)
    }

    /// Interns a value of the attribute at `attributePaths[column]` (`nil`, null, empty:
    /// missing, index 0); pass the results to ``addUser(id:principalName:valueIndices:holding:)``.
    public mutating func internValue(_ value: JSONValue?, inColumn column: Int) -> UInt32 {
        guard let value, !value.isMissing else { return 0 }
        if let index = valueLookup[column][value] { return index }
        let index = UInt32(columnValues[column].count)
        columnValues[column].append(value)
        valueLookup[column][value] = index
        return index
    }

    /// Sorts users by id and resolves group members into bitsets.
    /// - Throws: ``DiagnosticsError`` when two users or two groups share an id.
    public consuming func build() throws -> TenantModel {
        let order = userIDs.indices.sorted { userIDs[$0] < userIDs[$1] }
        let sortedIDs = order.map { userIDs[$0] }
        var duplicates: [String] = []
        for index in sortedIDs.indices.dropFirst() where sortedIDs[index] == sortedIDs[index - 1] {
            duplicates.append("user id \(sortedIDs[index])")
        }
        var seenGroups = Set<GUID>()
        for group in groups where !seenGroups.insert(group.id).inserted {
            duplicates.append("group id \(group.id)")
        }
        guard duplicates.isEmpty else {
            let shown = duplicates.prefix(5).joined(separator: ", ")
            let more = duplicates.count > 5 ? " and \(duplicates.count - 5) more" : ""
            throw DiagnosticsError([
                Diagnostic(
                    "the tenant data lists the same object more than once: \(shown)\(more); read it again",
                    at: nil
                )
            ])
        }

        let names = principalNames.permuted(by: order)
        principalNames = StringColumn()
        let width = attributePaths.count
        var permuted: [UInt32] = []
        permuted.reserveCapacity(valueIndices.count)
        for old in order { permuted.append(contentsOf: valueIndices[old * width..<(old + 1) * width]) }
        valueIndices = []
        let columns = AttributeColumns(paths: attributePaths, values: columnValues, indices: permuted)
        let holdingIndices = order.map { holdingOfUser[$0] }
        holdingOfUser = []

        let membership = Self.internGroupSets(groups: groups, userIDs: sortedIDs)
        return TenantModel(
            tenant: tenant,
            takenAt: takenAt,
            subscribedSkus: skus,
            groups: groups.map {
                GroupInfo(id: $0.id, displayName: $0.displayName, nestedGroups: nestedGroups[$0.id] ?? [])
            },
            groupSets: membership.sets,
            groupSetOfUser: membership.setOfUser,
            userIDs: sortedIDs,
            principalNames: names,
            columns: columns,
            holdings: holdings,
            holdingOfUser: holdingIndices
        )
    }
}

extension TenantBuilder {
    /// Each user's set of groups, interned: a counting sort of (user, group) memberships by
    /// user (groups come in index order, so each user's list is sorted), then one lookup per user.
    /// Members that are not among the users (deleted since, or not users) are ignored.
    static func internGroupSets(groups: [DirectoryGroup], userIDs: [GUID]) -> (sets: [[Int32]], setOfUser: [UInt32]) {
        let users = SortedIDIndex(sorted: userIDs)
        var memberIndices: [[Int]] = []
        var counts = [Int32](repeating: 0, count: userIDs.count + 1)
        for group in groups {
            // A member listed twice (Graph may repeat one across pages) counts once.
            var indices = group.members.compactMap { users.index(of: $0) }
            indices.sort()
            var unique: [Int] = []
            unique.reserveCapacity(indices.count)
            for index in indices where unique.last != index { unique.append(index) }
            for user in unique { counts[user + 1] += 1 }
            memberIndices.append(unique)
        }
        for user in 0..<userIDs.count { counts[user + 1] += counts[user] }
        var next = Array(counts.dropLast())
        var flat = [Int32](repeating: 0, count: Int(counts[userIDs.count]))
        for (group, members) in memberIndices.enumerated() {
            for user in members {
                flat[Int(next[user])] = Int32(group)
                next[user] += 1
            }
        }
        var sets: [[Int32]] = [[]]
        var lookup: [[Int32]: UInt32] = [[]: 0]
        var setOfUser = [UInt32](repeating: 0, count: userIDs.count)
        for user in 0..<userIDs.count where counts[user + 1] > counts[user] {
            let set = Array(flat[Int(counts[user])..<Int(counts[user + 1])])
            if let known = lookup[set] {
                setOfUser[user] = known
            } else {
                setOfUser[user] = UInt32(sets.count)
                lookup[set] = UInt32(sets.count)
                sets.append(set)
            }
        }
        return (sets, setOfUser)
    }
}

extension TenantModel {
    /// The model of a snapshot document, keeping the attributes it names plus `extraAttributes`.
    public init(snapshot: Snapshot, extraAttributes: [String] = []) throws {
        var builder = TenantBuilder(
            tenant: snapshot.tenant,
            takenAt: snapshot.takenAt,
            attributes: snapshot.attributes + extraAttributes
        )
        builder.reserveCapacity(users: snapshot.users.count)
        for sku in snapshot.subscribedSkus { builder.add(sku) }
        for group in snapshot.groups { builder.add(group) }
        for user in snapshot.users { builder.add(user) }
        self = try builder.build()
    }
}

extension Array where Element == GUID {
    /// The index of an id in an array sorted ascending, by binary search (within `range`
    /// when given: the id is known not to lie outside it).
    func sortedIndex(of id: GUID, in range: Range<Int>? = nil) -> Int? {
        let range = range ?? indices
        var low = range.lowerBound
        var high = range.upperBound
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < range.upperBound && self[low] == id ? low : nil
    }
}

/// Sorted ids with a table of where each value of their first bits starts, so that finding
/// an id searches only the few ids that share those bits. Object ids are random, so at
/// 100,000 users that is one or two ids, where a search of all of them is 17 steps that
/// mostly miss the cache (resolving the memberships of 20 groups, 270,000 lookups, spent most
/// of its time there). Ids that are not random only make the slices longer.
///
/// The table has about one entry per id, up to 2^16 (the first 16 bits): a small tenant's
/// table stays small, and building one is not a pass over 65,536 entries (the planner's
/// property tests build thousands of models of a few users each).
struct SortedIDIndex {
    private let ids: [GUID]
    /// `starts[b]..<starts[b + 1]`: the ids whose first bits are `b`.
    private let starts: [UInt32]
    /// 64 minus the number of leading bits a bucket is chosen by (at most 16; no bits, and
    /// one bucket, for no ids).
    private let shift: UInt64

    init(sorted ids: [GUID]) {
        let bits = min(16, ids.count.bitWidth - ids.count.leadingZeroBitCount)
        let shift = UInt64(64 - bits)
        let buckets = 1 << bits
        var starts = [UInt32](repeating: 0, count: buckets + 1)
        for id in ids { starts[Int(truncatingIfNeeded: id.high >> shift) + 1] += 1 }
        for bucket in 0..<buckets { starts[bucket + 1] += starts[bucket] }
        self.ids = ids
        self.starts = starts
        self.shift = shift
    }

    /// The id's index in the sorted ids, or `nil` when it is not among them.
    func index(of id: GUID) -> Int? {
        let bucket = Int(truncatingIfNeeded: id.high >> shift)
        return ids.sortedIndex(of: id, in: Int(starts[bucket])..<Int(starts[bucket + 1]))
    }
}

extension JSONValue {
    /// Absent for every policy operator: null, an empty string, an empty list or object.
    var isMissing: Bool {
        switch self {
        case .null: true
        case let .string(text): text.isEmpty
        case let .array(list): list.isEmpty
        case let .object(members): members.isEmpty
        case .bool, .number: false
        }
    }
}
