import AllotCore

/// Writes JSON text straight into bytes: the simulator's response bodies.
///
/// Foundation's `JSONEncoder` would cost more than the whole budget of a 100,000-user read, so
/// pages are written by hand. The writer only appends; callers place the commas with
/// ``comma(_:)`` or the `member` helpers.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ encoded: some Sequence<UInt8>) {
        bytes.append(contentsOf: encoded)
    }

    mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    /// Appends a comma unless this is the first element; sets `first` to false.
    mutating func comma(_ first: inout Bool) {
        if first { first = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// A quoted, escaped string.
    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var clean = true
            for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                clean = false
                break
            }
            if clean {
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { escape(byte) }
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case UInt8(ascii: "\n"): raw("\\n")
        case UInt8(ascii: "\r"): raw("\\r")
        case UInt8(ascii: "\t"): raw("\\t")
        case 0..<0x20:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            raw("\\u00")
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0xF)])
        default: bytes.append(byte)
        }
    }

    /// `"key":` (the key is trusted not to need escaping).
    mutating func key(_ key: String) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: key.utf8)
        raw("\":")
    }

    mutating func key(_ key: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        raw("\":")
    }

    mutating func integer(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    mutating func null() {
        raw("null")
    }

    mutating func optionalString(_ text: String?) {
        if let text { string(text) } else { null() }
    }

    mutating func guid(_ id: GUID) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: id.description.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func guids(_ ids: [GUID]) {
        byte(UInt8(ascii: "["))
        var first = true
        for id in ids {
            comma(&first)
            guid(id)
        }
        byte(UInt8(ascii: "]"))
    }

    mutating func strings(_ values: [String]) {
        byte(UInt8(ascii: "["))
        var first = true
        for value in values {
            comma(&first)
            string(value)
        }
        byte(UInt8(ascii: "]"))
    }

    /// `extensionAttribute2` before `extensionAttribute10`: names compared with their trailing
    /// numbers as numbers, as Graph lists such properties.
    static func naturalOrder(_ lhs: String, _ rhs: String) -> Bool {
        naturalOrder(naturalKey(lhs), naturalKey(rhs))
    }

    /// A name split into the text before its trailing digits and their number (-1 for none).
    private static func naturalKey(_ name: String) -> (Substring, Int) {
        let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }.count
        return (name.dropLast(digits), Int(name.suffix(digits)) ?? -1)
    }

    private static func naturalOrder(_ left: (Substring, Int), _ right: (Substring, Int)) -> Bool {
        left.0 != right.0 ? left.0 < right.0 : left.1 < right.1
    }

    /// Any JSON value, in Graph's shape (integers without a fraction).
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case let .bool(flag): bool(flag)
        case let .number(number):
            if let integer = Int64(exactly: number) {
                bytes.append(contentsOf: String(integer).utf8)
            } else {
                bytes.append(contentsOf: String(number).utf8)
            }
        case let .string(text): string(text)
        case let .array(items):
            byte(UInt8(ascii: "["))
            var first = true
            for item in items {
                comma(&first)
                self.value(item)
            }
            byte(UInt8(ascii: "]"))
        case let .object(members):
            byte(UInt8(ascii: "{"))
            var first = true
            // Each name split once, not once per comparison of the sort.
            let names = members.keys.map { (name: $0, key: Self.naturalKey($0)) }
                .sorted { Self.naturalOrder($0.key, $1.key) }.map(\.name)
            for name in names {
                comma(&first)
                string(name)
                byte(UInt8(ascii: ":"))
                self.value(members[name]!)
            }
            byte(UInt8(ascii: "}"))
        }
    }
}
