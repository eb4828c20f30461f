/// The tenant in memory, column by column: what planning reads, compact enough for
/// a million users.
///
/// Users are sorted by id, so a user's index is stable for a given set of users and the
/// plan lists them in id order whatever order Graph returned them in. Attribute values
/// are interned per column (index 0 is "missing"), license holdings are interned per
/// distinct combination, and group membership is one bitset per group. Build one with
/// ``TenantBuilder``; turn it back into JSON with ``snapshot()``.
public struct TenantModel: Sendable {
    public let tenant: String?
    public let takenAt: String?
    /// The subscribed SKUs as last read (a fast pass refreshes them, ``replaceSubscribedSkus(_:)``).
    public internal(set) var subscribedSkus: [SubscribedSku]
    /// The groups known (those the policies reference), without their members.
    public let groups: [GroupInfo]
    /// Group membership, interned like attribute values: each user has the index of its set of
    /// groups (sorted group indices; set 0 is "no group"). Users share a handful of sets, so a
    /// policy's group clauses are evaluated once per set, not once per user.
    var groupSets: [[Int32]]
    var groupSetOfUser: [UInt32]
    public var userCount: Int { userIDs.count }
    var userIDs: [GUID]
    var principalNames: StringColumn
    /// Attribute columns; always holds `usageLocation`.
    var columns: AttributeColumns
    let columnIndexByPath: [String: Int]
    let usageLocationColumn: Int
    /// Distinct license holdings, and which one each user has.
    var holdings: [LicenseHolding]
    var holdingOfUser: [UInt32]

    init(
        tenant: String?,
        takenAt: String?,
        subscribedSkus: [SubscribedSku],
        groups: [GroupInfo],
        groupSets: [[Int32]],
        groupSetOfUser: [UInt32],
        userIDs: [GUID],
        principalNames: StringColumn,
        columns: AttributeColumns,
        holdings: [LicenseHolding],
        holdingOfUser: [UInt32]
    ) {
        self.tenant = tenant
        self.takenAt = takenAt
        self.subscribedSkus = subscribedSkus
        self.groups = groups
        self.groupSets = groupSets
        self.groupSetOfUser = groupSetOfUser
        self.userIDs = userIDs
        self.principalNames = principalNames
        self.columns = columns
        var byPath: [String: Int] = [:]
        for (index, path) in columns.paths.enumerated() { byPath[path] = index }
        self.columnIndexByPath = byPath
        self.usageLocationColumn = byPath["usageLocation"]!
        self.holdings = holdings
        self.holdingOfUser = holdingOfUser
    }

    /// Bytes the model's storage occupies (array payloads; distinct values and holdings estimated),
    /// for the planner benchmark's memory budget.
    public var storageBytes: Int {
        let users = userIDs.capacity * MemoryLayout<GUID>.stride + holdingOfUser.capacity * 4
        let names = principalNames.storageBytes
        let attributes =
            columns.indices.capacity * 4 + columns.instants.capacity * 8
            + columns.values.reduce(0) { $0 + $1.reduce(0) { $0 + 16 + ($1.scalarText?.utf8.count ?? 0) } }
        let groups = groupSetOfUser.capacity * 4 + groupSets.reduce(0) { $0 + 32 + $1.count * 4 }
        let licenses = holdings.reduce(0) { $0 + 64 + 48 * ($1.assignedLicenses.count + ($1.states?.count ?? 0)) }
        return users + names + attributes + groups + licenses
    }

    /// The attribute paths held (beyond the license fields), in the order they were requested.
    public var attributePaths: [String] { columns.paths }

    public func userID(at index: Int) -> GUID { userIDs[index] }
    public func userPrincipalName(at index: Int) -> String { principalNames[index] }
    public func hasUsageLocation(at index: Int) -> Bool {
        columns.valueIndex(ofUser: index, column: usageLocationColumn) != 0
    }
    public func usageLocation(at index: Int) -> String? {
        if case let .string(code) = columns.value(ofUser: index, column: usageLocationColumn) { code } else { nil }
    }
    /// The value of an attribute the model holds, or `nil` when missing (or not held).
    public func attribute(_ path: String, ofUser index: Int) -> JSONValue? {
        columnIndexByPath[path].flatMap { columns.value(ofUser: index, column: $0) }
    }
    public func licenseHolding(ofUser index: Int) -> LicenseHolding { holdings[Int(holdingOfUser[index])] }
    public func isMember(user index: Int, ofGroup group: Int) -> Bool {
        groupSets[Int(groupSetOfUser[index])].contains(Int32(group))
    }
    /// How many users are members of the group at `group` (a pass over the users).
    public func memberCount(ofGroup group: Int) -> Int {
        (0..<userCount).reduce(0) { $0 + (isMember(user: $1, ofGroup: group) ? 1 : 0) }
    }
    /// How many users are members of each group (by group index), in one pass over the users.
    public var memberCounts: [Int] {
        var usersOfSet = [Int](repeating: 0, count: groupSets.count)
        for set in groupSetOfUser { usersOfSet[Int(set)] += 1 }
        var counts = [Int](repeating: 0, count: groups.count)
        for (set, members) in groupSets.enumerated() {
            for group in members { counts[Int(group)] += usersOfSet[set] }
        }
        return counts
    }

    /// The user with this object id or user principal name (case-insensitive).
    public func userIndex(forReference reference: String) -> Int? {
        if let id = GUID(reference) { return userIndex(for: id) }
        return principalNames.firstIndex(caseInsensitivelyEqualTo: reference)
    }

    /// The index of the user with this id: a binary search over the sorted ids.
    public func userIndex(for id: GUID) -> Int? { userIDs.sortedIndex(of: id) }

    /// The groups a reference names: the one with this id, or every group with this display name.
    public func groups(matching reference: String) -> [Int] {
        if let id = GUID(reference) { return groups.indices.filter { groups[$0].id == id } }
        let wanted = reference.lowercased()
        return groups.indices.filter { groups[$0].displayName.lowercased() == wanted }
    }

    /// The SKU a reference names, by `skuId` or `skuPartNumber` (case-insensitive).
    public func sku(matching reference: String) -> SubscribedSku? {
        if let id = GUID(reference) { return subscribedSkus.first { $0.skuId == id } }
        let wanted = reference.lowercased()
        return subscribedSkus.first { $0.skuPartNumber.lowercased() == wanted }
    }

    /// The user as Graph shaped it, with the attributes this model holds.
    public func directoryUser(at index: Int) -> DirectoryUser {
        var properties: [String: JSONValue] = [:]
        for (column, path) in columns.paths.enumerated() where !DirectoryUser.modelledKeys.contains(path) {
            guard let value = columns.value(ofUser: index, column: column) else { continue }
            properties.setValue(value, atPath: path.split(separator: ".")[...])
        }
        let holding = licenseHolding(ofUser: index)
        return DirectoryUser(
            id: userIDs[index],
            userPrincipalName: principalNames[index],
            usageLocation: usageLocation(at: index),
            assignedLicenses: holding.assignedLicenses,
            licenseAssignmentStates: holding.states,
            properties: properties
        )
    }

    /// The whole model as a snapshot document.
    public func snapshot() -> Snapshot {
        Snapshot(
            tenant: tenant,
            takenAt: takenAt,
            attributes: attributePaths.filter { $0 != "usageLocation" },
            subscribedSkus: subscribedSkus,
            groups: groups.indices.map { group in
                DirectoryGroup(
                    id: groups[group].id,
                    displayName: groups[group].displayName,
                    members: (0..<userCount).filter { isMember(user: $0, ofGroup: group) }.map { userIDs[$0] }
                )
            },
            users: (0..<userCount).map(directoryUser(at:))
        )
    }
}

/// A group's identity: its object id and display name.
public struct GroupInfo: Sendable, Hashable {
    public var id: GUID
    public var displayName: String
    /// The groups nested inside this one at any depth, as the read found them among its
    /// transitive members (empty when none, or when not read: a snapshot). A fast pass
    /// credits a user added to any of them with membership of this group.
    public var nestedGroups: Set<GUID>

    public init(id: GUID, displayName: String, nestedGroups: Set<GUID> = []) {
        self.id = id
        self.displayName = displayName
        self.nestedGroups = nestedGroups
    }
}

/// One user's licenses: what Graph reports in `assignedLicenses` and `licenseAssignmentStates`,
/// normalized (sorted) so that equal holdings intern to one entry.
public struct LicenseHolding: Sendable, Hashable {
    public var assignedLicenses: [AssignedLicense]
    /// `nil` when Graph did not report the states: then no assignment is known to be direct.
    public var states: [LicenseAssignmentState]?

    public init(assignedLicenses: [AssignedLicense], states: [LicenseAssignmentState]?) {
        self.assignedLicenses =
            assignedLicenses
            .map { AssignedLicense(skuId: $0.skuId, disabledPlans: $0.disabledPlans.sorted()) }
            .sorted { $0.skuId < $1.skuId }
        self.states = states?
            .map {
                LicenseAssignmentState(
                    skuId: $0.skuId,
                    disabledPlans: $0.disabledPlans.sorted(),
                    assignedByGroup: $0.assignedByGroup,
                    state: $0.state,
                    error: $0.error
                )
            }
            .sorted {
                ($0.skuId, $0.assignedByGroup ?? GUID(high: 0, low: 0)) < (
                    $1.skuId, $1.assignedByGroup ?? GUID(high: 0, low: 0)
                )
            }
    }

    /// The direct assignment of a SKU, if there is one.
    public func directAssignment(of sku: GUID) -> LicenseAssignmentState? {
        states?.first { $0.skuId == sku && $0.isDirect }
    }

    /// Whether a group assignment of the SKU is `Active`.
    public func heldThroughGroup(_ sku: GUID) -> Bool {
        states?.contains { $0.skuId == sku && !$0.isDirect && $0.state == "Active" } ?? false
    }

    /// Whether the SKU is assigned but no state says where from (Graph left it out): Allot treats
    /// it as held and never removes it.
    public func heldFromUnknownSource(_ sku: GUID) -> Bool {
        assignedLicenses.contains { $0.skuId == sku } && !(states?.contains { $0.skuId == sku } ?? false)
    }
}

/// Interned attribute values, row-major: user `u`'s value of column `c` is
/// `values[c][indices[u * paths.count + c]]`, and index 0 stands for missing (absent, null,
/// empty string, empty list). One flat array keeps a user's attributes in one cache line.
///
/// A date column (``PolicyDates/attributes``) holds up to one distinct value per user (sign-in
/// times to the second), so it is not interned: a date written as Graph writes it
/// (`2026-08-01T09:12:44Z`, ``PolicyDates/text(_:)``) is kept as its instant, eight bytes in
/// ``instants``, and its value index is ``AttributeColumns/dateIndex``; only other values
/// (a fraction, an offset, the never-signed-in placeholder, not a date) are interned.
struct AttributeColumns: Sendable {
    let paths: [String]
    /// Per column, the distinct values; `values[c][0]` is the missing placeholder, and in a date
    /// column `values[c][dateIndex]` stands for "the user's instant" (``value(ofUser:column:)``
    /// writes it out).
    var values: [[JSONValue]]
    var indices: [UInt32]
    /// The date columns, in column order; `dateSlot[c]` is column `c`'s position among them.
    let dateColumns: [Int]
    let dateSlot: [Int?]
    /// Row-major like ``indices``: user `u`'s instant in date column `dateColumns[k]` is
    /// `instants[u * dateColumns.count + k]`, seconds since the epoch, or ``noInstant`` when its
    /// value index is not ``dateIndex``. Date conditions read these, in user order, with no table.
    var instants: [Int64]

    /// The value index of a date kept as an instant.
    static let dateIndex: UInt32 = 1
    /// Stands for "no date" among ``instants``; no date condition's range holds it.
    static let noInstant = Int64.min

    /// - Parameter indices: row-major value indices into `values`, as interned (every distinct
    ///   value of a date column included; they are replaced by instants here).
    init(paths: [String], values: [[JSONValue]], indices: [UInt32]) {
        self.paths = paths
        let dateColumns = paths.indices.filter { PolicyDates.isDateAttribute(paths[$0]) }
        var dateSlot = [Int?](repeating: nil, count: paths.count)
        for (slot, column) in dateColumns.enumerated() { dateSlot[column] = slot }
        self.dateColumns = dateColumns
        self.dateSlot = dateSlot
        var values = values
        var indices = indices
        let width = paths.count
        let userCount = width == 0 ? 0 : indices.count / width
        var instants = [Int64](repeating: Self.noInstant, count: userCount * dateColumns.count)
        for (slot, column) in dateColumns.enumerated() {
            // Each interned value becomes the date index with its instant, or stays a value.
            var kept: [JSONValue] = [.null, .null]
            var renumbered = [(index: UInt32, instant: Int64)](
                repeating: (0, Self.noInstant),
                count: values[column].count
            )
            for (index, value) in values[column].enumerated().dropFirst() {
                if let instant = Self.dateInstant(of: value) {
                    renumbered[index] = (Self.dateIndex, instant)
                } else {
                    renumbered[index] = (UInt32(kept.count), Self.noInstant)
                    kept.append(value)
                }
            }
            values[column] = kept
            for user in 0..<userCount {
                let entry = renumbered[Int(indices[user * width + column])]
                indices[user * width + column] = entry.index
                instants[user * dateColumns.count + slot] = entry.instant
            }
        }
        self.values = values
        self.indices = indices
        self.instants = instants
    }

    /// The instant of a value written exactly as ``PolicyDates/text(_:)`` writes it (so that the
    /// text can be written out again from the instant), else `nil`.
    static func dateInstant(of value: JSONValue) -> Int64? {
        guard case var .string(text) = value, text.utf8.count == 20, let instant = value.instant else { return nil }
        // 20 bytes that parse, with an upper-case `T` and `Z`: `YYYY-MM-DDThh:mm:ssZ`.
        return text.withUTF8 { $0[10] == UInt8(ascii: "T") && $0[19] == UInt8(ascii: "Z") } ? instant : nil
    }

    func valueIndex(ofUser user: Int, column: Int) -> Int { Int(indices[user * paths.count + column]) }

    /// The user's instant in a date column (``noInstant`` unless the value index is ``dateIndex``).
    func instant(ofUser user: Int, dateSlot slot: Int) -> Int64 { instants[user * dateColumns.count + slot] }

    func value(ofUser user: Int, column: Int) -> JSONValue? {
        let index = valueIndex(ofUser: user, column: column)
        if index == 0 { return nil }
        if index == Self.dateIndex, let slot = dateSlot[column] {
            return .string(PolicyDates.text(instant(ofUser: user, dateSlot: slot)))
        }
        return values[column][index]
    }

    /// The value index and instant to store for a value of a column (a fast pass's update): a
    /// date as its instant, anything else appended to the column's values. The column's distinct
    /// values are not looked up (a high-cardinality column has no index kept), so a value may
    /// repeat until the next full read, which costs a table entry, never a wrong match.
    mutating func append(_ value: JSONValue?, column: Int) -> (index: UInt32, instant: Int64) {
        guard let value, !value.isMissing else { return (0, Self.noInstant) }
        if dateSlot[column] != nil, let instant = Self.dateInstant(of: value) { return (Self.dateIndex, instant) }
        values[column].append(value)
        return (UInt32(values[column].count - 1), Self.noInstant)
    }
}

/// Many strings in one byte buffer: a few bytes of overhead each instead of a heap object.
struct StringColumn: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var ends: [UInt32] = []

    var count: Int { ends.count }
    var storageBytes: Int { bytes.capacity + ends.capacity * 4 }

    mutating func append(_ string: String) {
        bytes.append(contentsOf: string.utf8)
        ends.append(UInt32(bytes.count))
    }

    mutating func reserveCapacity(strings: Int, bytes byteCount: Int) {
        ends.reserveCapacity(strings)
        bytes.reserveCapacity(byteCount)
    }

    subscript(index: Int) -> String {
        let start = index == 0 ? 0 : Int(ends[index - 1])
        return String(decoding: bytes[start..<Int(ends[index])], as: UTF8.self)
    }

    /// Bytes held.
    var byteCount: Int { bytes.count }

    /// The first string equal to `wanted` ignoring case (as `lowercased()` compares), or `nil`.
    /// Compiling `exclude.users` looks user principal names up here, once per name, among a
    /// million users: when the name and the column are ASCII (user principal names are), strings
    /// compare by length and then byte by byte, without building a `String` each (that cost a
    /// fast pass about 30 ms at a million users); otherwise each is lowercased and compared.
    func firstIndex(caseInsensitivelyEqualTo wanted: String) -> Int? {
        let lowered = Array(wanted.lowercased().utf8)
        return bytes.withUnsafeBufferPointer { bytes in
            let ascii = lowered.allSatisfy { $0 < 0x80 } && Self.isASCII(bytes)
            var start = 0
            for index in 0..<ends.count {
                let end = Int(ends[index])
                defer { start = end }
                let candidate = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if ascii {
                    if candidate.count == lowered.count,
                        zip(candidate, lowered).allSatisfy({ Self.asciiLowercased($0) == $1 })
                    {
                        return index
                    }
                } else if String(decoding: candidate, as: UTF8.self).lowercased().utf8.elementsEqual(lowered) {
                    return index
                }
            }
            return nil
        }
    }

    /// Whether every byte is ASCII, eight bytes at a time.
    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        var high: UInt64 = 0
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                index += 8
            }
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    /// The UTF-8 bytes of the string at `index`.
    func bytes(at index: Int) -> ArraySlice<UInt8> {
        bytes[(index == 0 ? 0 : Int(ends[index - 1]))..<Int(ends[index])]
    }

    mutating func append(_ utf8: ArraySlice<UInt8>) {
        bytes.append(contentsOf: utf8)
        ends.append(UInt32(bytes.count))
    }

    /// The same strings with some replaced (by index).
    func replacing(_ replacements: [Int: String]) -> StringColumn {
        var result = StringColumn()
        result.reserveCapacity(strings: count, bytes: bytes.count)
        for index in 0..<count {
            if let replacement = replacements[index] {
                result.append(replacement)
            } else {
                result.append(bytes(at: index))
            }
        }
        return result
    }

    /// The strings in a new order: `order[i]` is the old index of the new i-th string.
    func permuted(by order: [Int]) -> StringColumn {
        var result = StringColumn()
        result.reserveCapacity(strings: count, bytes: bytes.count)
        for old in order {
            let start = old == 0 ? 0 : Int(ends[old - 1])
            result.bytes.append(contentsOf: bytes[start..<Int(ends[old])])
            result.ends.append(UInt32(result.bytes.count))
        }
        return result
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// Sets a value at a dotted path, creating nested objects on the way.
    mutating func setValue(_ value: JSONValue, atPath components: ArraySlice<Substring>) {
        guard let first = components.first else { return }
        let key = String(first)
        if components.count == 1 {
            self[key] = value
            return
        }
        var nested: [String: JSONValue] = [:]
        if case let .object(existing)? = self[key] { nested = existing }
        nested.setValue(value, atPath: components.dropFirst())
        self[key] = .object(nested)
    }
}
