import AllotCore

/// Many byte strings in one buffer: one allocation instead of one per string.
struct ByteArena: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var ends: [UInt32] = []

    var count: Int { ends.count }

    @discardableResult
    mutating func append(_ element: some Collection<UInt8>) -> UInt32 {
        bytes.append(contentsOf: element)
        ends.append(UInt32(bytes.count))
        return UInt32(ends.count - 1)
    }

    subscript(index: Int) -> ArraySlice<UInt8> {
        let start = index == 0 ? 0 : Int(ends[index - 1])
        return bytes[start..<Int(ends[index])]
    }
}

/// One user property for every user: each user's value is an index into the column's distinct
/// values, which are kept as their JSON text (ready to write into a response).
///
/// Columns with few distinct values (department, country, ...) cost four bytes per user; the
/// lookup that finds repeated values is dropped once a column turns out to be nearly unique
/// (display names, mail), so those cost their text and nothing more.
struct PropertyColumn: Sendable {
    /// Distinct values beyond which a column stops looking for repeats.
    static let lookupLimit = 50_000

    let name: String
    /// Index 0 is `null` (absent).
    private var distinct = ByteArena()
    private var lookup: [JSONValue: UInt32]? = [:]
    /// The distinct values themselves, while ``lookup`` keeps them anyway (so at no cost in
    /// memory): reading a value is then an index, not a parse of its text. `nil` for a value
    /// whose text would not read back as it (a number JSON cannot write).
    private var decoded: [JSONValue?]? = [nil]
    private(set) var valueOfUser: [UInt32] = []

    init(name: String, users: Int) {
        self.name = name
        distinct.append(Array("null".utf8))
        valueOfUser = [UInt32](repeating: 0, count: users)
    }

    /// Makes room for one more user (with no value).
    mutating func appendUser() {
        valueOfUser.append(0)
    }

    mutating func reserveCapacity(_ users: Int) {
        valueOfUser.reserveCapacity(users)
    }

    /// Forgets a user; the users after it move down one index.
    mutating func removeUser(_ user: Int) {
        valueOfUser.remove(at: user)
    }

    mutating func set(_ value: JSONValue?, forUser user: Int) {
        valueOfUser[user] = intern(value)
    }

    private mutating func intern(_ value: JSONValue?) -> UInt32 {
        guard let value, value != .null else { return 0 }
        if let index = lookup?[value] { return index }
        let index = distinct.append(value.encoded)
        if lookup != nil {
            lookup![value] = index
            decoded!.append(Self.readsBack(value) ? value : nil)
            if distinct.count > Self.lookupLimit {
                lookup = nil
                decoded = nil
            }
        }
        return index
    }

    /// Whether parsing the value's JSON text gives the value back exactly: every value but a
    /// number that is not finite or is minus zero (written as `0`).
    private static func readsBack(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool, .string: true
        case let .number(number): number.isFinite && !(number == 0 && number.sign == .minus)
        case let .array(list): list.allSatisfy(readsBack)
        case let .object(members): members.values.allSatisfy(readsBack)
        }
    }

    /// The user's value as JSON text (`null` when absent).
    func encodedValue(ofUser user: Int) -> ArraySlice<UInt8> {
        distinct[Int(valueOfUser[user])]
    }

    func hasValue(forUser user: Int) -> Bool {
        valueOfUser[user] != 0
    }

    /// The user's value, or `nil` when absent.
    func value(ofUser user: Int) -> JSONValue? {
        let index = Int(valueOfUser[user])
        guard index != 0 else { return nil }
        if let decoded, let value = decoded[index] { return value }
        return try? JSONParser.parse(distinct[index])
    }
}
