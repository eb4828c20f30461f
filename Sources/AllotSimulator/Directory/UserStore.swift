import AllotCore

/// Every user of the simulated tenant, column by column.
///
/// A user is an index. Property values live in ``PropertyColumn``s, license holdings in a shared
/// ``HoldingTable``; a million users fit in a few hundred megabytes and a page of 999 is written
/// by copying bytes.
struct UserStore: Sendable {
    private(set) var ids: [GUID] = []
    private(set) var columns: [PropertyColumn] = []
    /// Column index by property name, exactly as stored.
    private(set) var columnIndex: [String: Int] = [:]
    private(set) var holdingOfUser: [UInt32] = []
    private(set) var holdings = HoldingTable()
    /// The directory version of each user's last change that users delta tracks (a property
    /// other than the license fields and sign-in activity, or the user's creation).
    private(set) var changedIn: [UInt64] = []
    /// Each user's place in creation order: ascending along the store (users are appended, and a
    /// deletion keeps the others' order), so a delta page continues after the last serial it
    /// wrote even when users come and go between pages.
    private(set) var serials: [UInt32] = []
    private var nextSerial: UInt32 = 1
    private var idIndex: [GUID: Int32] = [:]
    private var principalNameIndex: [UInt64: Int32] = [:]
    private var principalNameOverflow: [String: Int32] = [:]

    static let principalNameColumn = "userPrincipalName"
    static let usageLocationColumn = "usageLocation"

    var count: Int { ids.count }

    init() {
        ensureColumn(Self.principalNameColumn)
        ensureColumn(Self.usageLocationColumn)
    }

    mutating func reserveCapacity(_ users: Int) {
        ids.reserveCapacity(users)
        holdingOfUser.reserveCapacity(users)
        changedIn.reserveCapacity(users)
        serials.reserveCapacity(users)
        idIndex.reserveCapacity(users)
        principalNameIndex.reserveCapacity(users)
        for index in columns.indices { columns[index].reserveCapacity(users) }
    }

    @discardableResult
    private mutating func ensureColumn(_ name: String) -> Int {
        if let index = columnIndex[name] { return index }
        columns.append(PropertyColumn(name: name, users: ids.count))
        columnIndex[name] = columns.count - 1
        return columns.count - 1
    }

    /// Adds a user.
    /// - Throws: ``DirectoryLoadError`` when the id or the user principal name is taken.
    mutating func add(_ user: DirectoryUser, version: UInt64) throws(DirectoryLoadError) {
        guard idIndex[user.id] == nil else { throw .duplicateUserId(user.id) }
        guard index(ofPrincipalName: user.userPrincipalName) == nil else {
            throw .duplicatePrincipalName(user.userPrincipalName)
        }
        let index = ids.count
        ids.append(user.id)
        for column in columns.indices { columns[column].appendUser() }
        holdingOfUser.append(holdings.intern(user.sourceStates))
        changedIn.append(version)
        serials.append(nextSerial)
        nextSerial += 1
        idIndex[user.id] = Int32(index)
        indexPrincipalName(user.userPrincipalName, user: index)
        columns[columnIndex[Self.principalNameColumn]!].set(.string(user.userPrincipalName), forUser: index)
        columns[columnIndex[Self.usageLocationColumn]!].set(user.usageLocation.map(JSONValue.string), forUser: index)
        for (name, value) in user.properties where !value.isAbsent {
            let column = ensureColumn(name)
            columns[column].set(value, forUser: index)
        }
    }

    // MARK: Lookup

    /// The user with this object id or user principal name (case-insensitive), if any.
    func index(ofIdOrPrincipalName key: String) -> Int? {
        if let id = GUID(key) { return idIndex[id].map(Int.init) }
        return index(ofPrincipalName: key)
    }

    func index(ofId id: GUID) -> Int? {
        idIndex[id].map(Int.init)
    }

    func index(ofPrincipalName name: String) -> Int? {
        let folded = name.lowercased()
        if let index = principalNameOverflow[folded] { return Int(index) }
        guard let index = principalNameIndex[Self.hash(folded)] else { return nil }
        return principalName(ofUser: Int(index)).lowercased() == folded ? Int(index) : nil
    }

    private mutating func indexPrincipalName(_ name: String, user: Int) {
        let folded = name.lowercased()
        let key = Self.hash(folded)
        if principalNameIndex[key] == nil {
            principalNameIndex[key] = Int32(user)
        } else {
            principalNameOverflow[folded] = Int32(user)
        }
    }

    /// FNV-1a over the folded name: an 8-byte key instead of a string per user.
    private static func hash(_ folded: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in folded.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    // MARK: Values

    func principalName(ofUser user: Int) -> String {
        columns[columnIndex[Self.principalNameColumn]!].value(ofUser: user)?.stringValue ?? ""
    }

    func usageLocation(ofUser user: Int) -> String? {
        columns[columnIndex[Self.usageLocationColumn]!].value(ofUser: user)?.stringValue
    }

    func holding(ofUser user: Int) -> HoldingRecord {
        holdings[holdingOfUser[user]]
    }

    func column(named name: String) -> PropertyColumn? {
        columnIndex[name].map { columns[$0] }
    }

    /// The user as a snapshot entry.
    func directoryUser(_ user: Int) -> DirectoryUser {
        var properties: [String: JSONValue] = [:]
        for column in columns where column.name != Self.principalNameColumn && column.name != Self.usageLocationColumn {
            if let value = column.value(ofUser: user) { properties[column.name] = value }
        }
        let holding = holding(ofUser: user)
        return DirectoryUser(
            id: ids[user],
            userPrincipalName: principalName(ofUser: user),
            usageLocation: usageLocation(ofUser: user),
            assignedLicenses: holding.assigned,
            licenseAssignmentStates: holding.states,
            properties: properties
        )
    }

    // MARK: Changes

    /// Replaces a user's license sources. Users delta does not track licenses (graph-facts §5), so
    /// the user's change version stays.
    mutating func setHolding(_ states: [LicenseAssignmentState], ofUser user: Int) {
        holdingOfUser[user] = holdings.intern(states)
    }

    /// Sets a property; `trackedIn` is the version users delta reports the change in, `nil` for
    /// a property delta does not track.
    mutating func setProperty(_ name: String, to value: JSONValue?, ofUser user: Int, trackedIn version: UInt64?) {
        let column = ensureColumn(name)
        columns[column].set(value, forUser: user)
        if let version { changedIn[user] = version }
    }

    /// The first user (store index) created after the user with this serial, or `count`.
    func index(afterSerial serial: UInt32) -> Int {
        var low = 0
        var high = serials.count
        while low < high {
            let middle = (low + high) / 2
            if serials[middle] <= serial { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Removes a user; the users after it move down one index, and the lookups are rebuilt
    /// (linear in the users: deletions are rare, admin-made changes).
    mutating func remove(_ user: Int) {
        ids.remove(at: user)
        holdingOfUser.remove(at: user)
        changedIn.remove(at: user)
        serials.remove(at: user)
        for column in columns.indices { columns[column].removeUser(user) }
        idIndex.removeAll(keepingCapacity: true)
        principalNameIndex.removeAll(keepingCapacity: true)
        principalNameOverflow.removeAll()
        for (index, id) in ids.enumerated() {
            idIndex[id] = Int32(index)
            indexPrincipalName(principalName(ofUser: index), user: index)
        }
    }
}

/// Why a tenant could not be loaded into the simulator.
public enum DirectoryLoadError: Error, CustomStringConvertible, Equatable {
    case duplicateUserId(GUID)
    case duplicatePrincipalName(String)
    case duplicateGroupId(GUID)
    case duplicateSkuId(GUID)

    public var description: String {
        switch self {
        case let .duplicateUserId(id): "user id \(id) appears more than once in the tenant; give every user its own id"
        case let .duplicatePrincipalName(name):
            "userPrincipalName '\(name)' appears more than once in the tenant (compared ignoring case); make it unique"
        case let .duplicateGroupId(id):
            "group id \(id) appears more than once in the tenant; give every group its own id"
        case let .duplicateSkuId(id): "skuId \(id) appears more than once in subscribedSkus; list each product once"
        }
    }
}

extension JSONValue {
    /// `null`: stored as no value.
    var isAbsent: Bool { self == .null }
}
