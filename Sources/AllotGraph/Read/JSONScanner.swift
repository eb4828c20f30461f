import AllotCore
import Foundation

/// A forward-only JSON reader over the bytes of one response body.
///
/// The tenant read decodes hundreds of thousands of users; going through `JSONDecoder` (or a
/// generic JSON tree) costs more than the 10 µs per user the read may spend. This scanner
/// reads only the fields asked for, skips the rest without building anything, and parses
/// GUIDs straight from the bytes. Use it inside `withUnsafeReadableBytes` only.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// A malformed body: where, and what was expected.
    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let expected: String
        var description: String { "malformed JSON at byte \(offset): expected \(expected)" }
    }

    // MARK: Structure

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() throws(SyntaxError) -> UInt8 {
        guard position < bytes.count else { throw SyntaxError(offset: position, expected: "more input") }
        return bytes[position]
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else {
            throw SyntaxError(offset: position, expected: what)
        }
        position += 1
    }

    /// Consumes `{`.
    mutating func beginObject() throws(SyntaxError) { try expect(UInt8(ascii: "{"), "'{'") }

    /// Consumes `[`.
    mutating func beginArray() throws(SyntaxError) { try expect(UInt8(ascii: "["), "'['") }

    /// The next key of the object being read (the raw bytes between its quotes), with the
    /// `:` after it consumed; `nil` once the closing `}` is consumed.
    mutating func nextKey(first: inout Bool) throws(SyntaxError) -> Range<Int>? {
        skipWhitespace()
        let byte = try peek()
        if byte == UInt8(ascii: "}") {
            position += 1
            return nil
        }
        if !first {
            guard byte == UInt8(ascii: ",") else { throw SyntaxError(offset: position, expected: "',' or '}'") }
            position += 1
            skipWhitespace()
        }
        first = false
        let key = try stringRange().range
        try expect(UInt8(ascii: ":"), "':'")
        skipWhitespace()
        return key
    }

    /// Whether another element of the array being read follows (the `,` consumed); `false`
    /// once the closing `]` is consumed.
    mutating func nextElement(first: inout Bool) throws(SyntaxError) -> Bool {
        skipWhitespace()
        let byte = try peek()
        if byte == UInt8(ascii: "]") {
            position += 1
            return false
        }
        if !first {
            guard byte == UInt8(ascii: ",") else { throw SyntaxError(offset: position, expected: "',' or ']'") }
            position += 1
            skipWhitespace()
        }
        first = false
        return true
    }

    /// Whether the bytes in `range` are exactly `literal`'s.
    @inline(__always)
    func matches(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let pointer = literal.utf8Start
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != pointer[offset] { return false }
        return true
    }

    /// Whether the bytes in `range` are exactly `other`.
    @inline(__always)
    func matches(_ range: Range<Int>, _ other: [UInt8]) -> Bool {
        guard range.count == other.count else { return false }
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != other[offset] { return false }
        return true
    }

    // MARK: Values

    /// Consumes `null` if it is next.
    mutating func consumeNull() throws(SyntaxError) -> Bool {
        skipWhitespace()
        guard position + 4 <= bytes.count, bytes[position] == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// A string's raw byte range (between the quotes) and whether it holds escapes.
    ///
    /// Finds the closing quote with `memchr` (vectorized), then checks the span for a
    /// backslash the same way; only a string with escapes is walked byte by byte.
    mutating func stringRange() throws(SyntaxError) -> (range: Range<Int>, escaped: Bool) {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
            throw SyntaxError(offset: position, expected: "a string")
        }
        let start = position + 1
        guard let base = bytes.baseAddress else { throw SyntaxError(offset: start, expected: "the end of the string") }
        guard let found = memchr(base + start, Int32(UInt8(ascii: "\"")), bytes.count - start) else {
            throw SyntaxError(offset: start, expected: "the end of the string")
        }
        let quote = base.distance(to: UnsafeRawPointer(found))
        guard let backslash = memchr(base + start, Int32(UInt8(ascii: "\\")), quote - start) else {
            position = quote + 1
            return (start..<quote, false)
        }
        // Walk from the first backslash: skip each escape, stop at an unescaped quote.
        var index = base.distance(to: UnsafeRawPointer(backslash))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                index += 2
            } else if byte == UInt8(ascii: "\"") {
                position = index + 1
                return (start..<index, true)
            } else {
                index += 1
            }
        }
        throw SyntaxError(offset: start, expected: "the end of the string")
    }

    mutating func string() throws(SyntaxError) -> String {
        skipWhitespace()
        let (range, escaped) = try stringRange()
        return escaped
            ? try unescape(range) : String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A string, or `nil` for `null`.
    mutating func optionalString() throws(SyntaxError) -> String? {
        try consumeNull() ? nil : try string()
    }

    mutating func guid() throws(SyntaxError) -> GUID {
        skipWhitespace()
        let start = position
        // Fast path: a quoted 36-character GUID, read through a nibble table.
        if start + 38 <= bytes.count, bytes[start] == UInt8(ascii: "\""), bytes[start + 37] == UInt8(ascii: "\""),
            let guid = Self.parseGUID(bytes, at: start + 1)
        {
            position = start + 38
            return guid
        }
        let (range, _) = try stringRange()
        guard let guid = GUID(utf8: UnsafeRawBufferPointer(rebasing: bytes[range])) else {
            throw SyntaxError(offset: start, expected: "a GUID")
        }
        return guid
    }

    /// Hex digit values by byte; 0xFF for anything that is not a hex digit.
    private static let nibbles: [UInt8] = (0..<256).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(byte) - UInt8(ascii: "A") + 10
        default: 0xFF
        }
    }

    /// The GUID in the 36 bytes at `offset` (`8-4-4-4-12` hex digits), or `nil`.
    @inline(__always)
    private static func parseGUID(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> GUID? {
        guard bytes[offset + 8] == UInt8(ascii: "-"), bytes[offset + 13] == UInt8(ascii: "-"),
            bytes[offset + 18] == UInt8(ascii: "-"), bytes[offset + 23] == UInt8(ascii: "-")
        else { return nil }
        return nibbles.withUnsafeBufferPointer { table -> GUID? in
            var words: (UInt64, UInt64) = (0, 0)
            var invalid: UInt8 = 0
            var digit = 0
            for index in offset..<(offset + 36)
            where index != offset + 8 && index != offset + 13 && index != offset + 18 && index != offset + 23 {
                let value = table[Int(bytes[index])]
                invalid |= value & 0xF0
                if digit < 16 {
                    words.0 = words.0 << 4 | UInt64(value & 0x0F)
                } else {
                    words.1 = words.1 << 4 | UInt64(value & 0x0F)
                }
                digit += 1
            }
            return invalid == 0 ? GUID(high: words.0, low: words.1) : nil
        }
    }

    mutating func optionalGUID() throws(SyntaxError) -> GUID? {
        try consumeNull() ? nil : try guid()
    }

    /// An array of GUIDs (`disabledPlans`); `null` reads as empty.
    mutating func guids() throws(SyntaxError) -> [GUID] {
        if try consumeNull() { return [] }
        try beginArray()
        var result: [GUID] = []
        var first = true
        while try nextElement(first: &first) { result.append(try guid()) }
        return result
    }

    /// Any value as a ``JSONValue``.
    mutating func value() throws(SyntaxError) -> JSONValue {
        skipWhitespace()
        switch try peek() {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "{"):
            position += 1
            var members: [String: JSONValue] = [:]
            var first = true
            while let key = try nextKey(first: &first) {
                let name = try keyString(key)
                members[name] = try value()
            }
            return .object(members)
        case UInt8(ascii: "["):
            position += 1
            var elements: [JSONValue] = []
            var first = true
            while try nextElement(first: &first) { elements.append(try value()) }
            return .array(elements)
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try number())
        }
    }

    /// Skips one value of any kind without building it.
    mutating func skipValue() throws(SyntaxError) {
        skipWhitespace()
        switch try peek() {
        case UInt8(ascii: "\""):
            _ = try stringRange()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    _ = try stringRange()
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        position += 1
                        return
                    }
                default:
                    break
                }
                position += 1
            }
            throw SyntaxError(offset: position, expected: "the end of the object or array")
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    // MARK: Helpers

    private mutating func literal(_ text: StaticString) throws(SyntaxError) {
        let count = text.utf8CodeUnitCount
        guard position + count <= bytes.count, matches(position..<(position + count), text) else {
            throw SyntaxError(offset: position, expected: "\(text)")
        }
        position += count
    }

    private mutating func number() throws(SyntaxError) -> Double {
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                position += 1
            default:
                guard position > start,
                    let number = Double(
                        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    )
                else {
                    throw SyntaxError(offset: start, expected: "a value")
                }
                return number
            }
        }
        guard position > start,
            let number = Double(
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            )
        else {
            throw SyntaxError(offset: start, expected: "a value")
        }
        return number
    }

    private func keyString(_ range: Range<Int>) throws(SyntaxError) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
        return raw.contains(UInt8(ascii: "\\")) ? try unescape(range) : String(decoding: raw, as: UTF8.self)
    }

    /// Decodes a string with escapes (`\n`, `\"`, `\u00e9`, surrogate pairs).
    private func unescape(_ range: Range<Int>) throws(SyntaxError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < range.upperBound else { throw SyntaxError(offset: index, expected: "an escape") }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: index, end: range.upperBound)
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= range.upperBound,
                    bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                {
                    let low = try hex4(at: index + 2, end: range.upperBound)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                output.append(contentsOf: String(character).utf8)
            default:
                throw SyntaxError(offset: index - 2, expected: "a valid escape")
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private func hex4(at index: Int, end: Int) throws(SyntaxError) -> UInt32 {
        guard index + 4 <= end else { throw SyntaxError(offset: index, expected: "four hex digits") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw SyntaxError(offset: index + offset, expected: "a hex digit")
            }
            value = value << 4 | digit
        }
        return value
    }
}
