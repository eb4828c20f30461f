/// A directory GUID (object id, skuId, servicePlanId) as two integers.
///
/// Sixteen bytes with no allocation, ordered like its lowercase text form, so sorting
/// users by `GUID` sorts them by id as Graph prints it. Parsing accepts either case;
/// `description` is always lowercase.
public struct GUID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (36 characters, hyphens where shown).
    public init?(_ text: some StringProtocol) {
        self.init(utf8: text.utf8)
    }

    /// Parses the UTF-8 bytes of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, e.g. straight from a
    /// response body, without making a `String` first.
    @inlinable
    public init?(utf8 bytes: some Collection<UInt8>) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        var count = 0
        for byte in bytes {
            count += 1
            if count == 9 || count == 14 || count == 19 || count == 24 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt64(byte &- UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt64(byte &- UInt8(ascii: "a") &+ 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt64(byte &- UInt8(ascii: "A") &+ 10)
            default: return nil
            }
            if digits < 16 { high = high << 4 | nibble } else { low = low << 4 | nibble }
            digits += 1
        }
        guard count == 36, digits == 32 else { return nil }
        self.high = high
        self.low = low
    }

    public var description: String {
        var bytes = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var position = 35
        for (word, nibbles) in [(low, 16), (high, 16)] {
            var value = word
            for _ in 0..<nibbles {
                if position == 8 || position == 13 || position == 18 || position == 23 { position -= 1 }
                bytes[position] = hex[Int(value & 0xF)]
                value >>= 4
                position -= 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: GUID, rhs: GUID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let guid = GUID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a GUID")
        }
        self = guid
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
