/// Any JSON value: user properties Allot does not model by name (the attributes
/// policies test) keep their Graph shape, nested objects and lists included.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A `Decoder` cannot say what kind of value it holds, so each kind is tried in turn, and
    /// each miss is a thrown error. The order is by how often a directory's values are of each
    /// kind: strings first (a string costs no miss), then numbers, booleans, objects and arrays.
    /// JSON keeps the kinds apart (`JSONDecoder` reads neither `"1"` nor `true` as a number), so
    /// the order changes the cost, never the value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let members = try? container.decode([String: JSONValue].self) {
            self = .object(members)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(flag): try container.encode(flag)
        case let .number(number):
            if let integer = Int64(exactly: number) {
                try container.encode(integer)
            } else {
                try container.encode(number)
            }
        case let .string(text): try container.encode(text)
        case let .array(list): try container.encode(list)
        case let .object(members): try container.encode(members)
        }
    }

    /// The value at a dotted path (`onPremisesExtensionAttributes.extensionAttribute1`).
    public func value(atPath components: some Collection<Substring>) -> JSONValue? {
        guard let first = components.first else { return self }
        guard case let .object(members) = self, let child = members[String(first)] else { return nil }
        return child.value(atPath: components.dropFirst())
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(uniqueKeysWithValues: elements))
    }
}
