/// A composed YAML node as Allot reads it: its content, where it starts, and how many
/// nodes it stands for once aliases are expanded.
///
/// Aliases are resolved while composing (an alias is a copy of its anchored node, sharing
/// storage), so readers never see them; `expandedSize` is what walking the node costs.
struct YAMLNode: Sendable {
    enum Content: Sendable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    var content: Content
    /// 1-based.
    var line: Int
    /// 1-based, in Unicode scalars as libyaml counts them.
    var column: Int
    /// This node and every node below it, aliases expanded.
    var expandedSize: Int
}

/// One `key: value` entry of a mapping.
struct YAMLPair: Sendable {
    var key: YAMLNode
    var value: YAMLNode
}

/// A scalar's text and whether it was written plain (unquoted, untagged), which decides
/// whether `true`, `12` or `~` mean a boolean, a number or null rather than text.
struct YAMLScalar: Sendable {
    var text: String
    var isPlain: Bool

    /// The scalar's meaning under the YAML 1.2 core schema. Unlike YAML 1.1 (and Yams'
    /// default resolver), `no`, `on` or `NO` (Norway) stay text.
    var value: Value {
        guard isPlain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if let integer = Self.integer(text) { return .int(integer) }
        if Self.looksLikeFloat(text), let number = Double(text) { return .float(number) }
        return .string(text)
    }

    enum Value: Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
    private static func integer(_ text: String) -> Int? {
        if text.hasPrefix("0x") { return Int(text.dropFirst(2), radix: 16) }
        if text.hasPrefix("0o") { return Int(text.dropFirst(2), radix: 8) }
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Int(text)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`: only the characters a float uses,
    /// with at least one digit, so that `Double(_:)` does not accept words such as `nan`.
    private static func looksLikeFloat(_ text: String) -> Bool {
        var sawDigit = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "-"), UInt8(ascii: "+"): continue
            default: return false
            }
        }
        return sawDigit
    }
}
