/// Percent-decoding and query strings, as HTTP clients send them.
enum URLCoding {
    /// Decodes `%XX` escapes; with `plusIsSpace` (form bodies), `+` too. Invalid escapes stay as they are.
    static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `name=value&...` into decoded pairs, in order.
    static func pairs(_ query: Substring, plusIsSpace: Bool) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return (
                    decode(pair[..<equals], plusIsSpace: plusIsSpace),
                    decode(pair[pair.index(after: equals)...], plusIsSpace: plusIsSpace)
                )
            }
            return (decode(pair, plusIsSpace: plusIsSpace), "")
        }
    }

    /// Percent-encodes a query value (everything but unreserved characters).
    static func encodeQueryValue(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ","),
                UInt8(ascii: "$"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ":"), UInt8(ascii: "/"),
                UInt8(ascii: "'"), UInt8(ascii: "@"):
                bytes.append(byte)
            default:
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A request's query parameters, looked up case-insensitively; OData options match with or
/// without their `$` (Graph v1.0 accepts both).
struct QueryParameters: Sendable {
    let pairs: [(name: String, value: String)]

    /// Decodes a query string; `+` is a space, as form-style encoders (Python's `urlencode`,
    /// `curl --data-urlencode`) write it and Graph reads it.
    init(_ query: Substring?) {
        pairs = query.map { URLCoding.pairs($0, plusIsSpace: true) } ?? []
    }

    init(pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    subscript(name: String) -> String? {
        let wanted = name.lowercased()
        return pairs.first { $0.name.lowercased() == wanted }?.value
    }

    /// An OData system option: `$select` or `select`.
    func option(_ name: String) -> String? {
        self["$" + name] ?? self[name]
    }

    /// The query without the named options, re-encoded (for building next links).
    func encoded(removingOptions names: Set<String>) -> [String] {
        pairs.compactMap { pair in
            let bare = pair.name.hasPrefix("$") ? String(pair.name.dropFirst()) : pair.name
            guard !names.contains(bare.lowercased()) else { return nil }
            return URLCoding.encodeQueryValue(pair.name) + "=" + URLCoding.encodeQueryValue(pair.value)
        }
    }
}
