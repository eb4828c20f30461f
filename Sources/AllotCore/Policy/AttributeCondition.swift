/// One `match.attributes` entry: a user property and the operators that must all hold.
///
/// Semantics (the product brief's "Precise definitions"): string comparisons ignore case;
/// a missing, null or empty attribute satisfies only `notIn` and `exists: false`; a
/// list-valued attribute satisfies an operator when any element does; dotted paths walk
/// nested objects (`onPremisesExtensionAttributes.extensionAttribute1`).
public struct AttributeCondition: Sendable, Hashable {
    /// The property, dotted for nested objects.
    public var path: String
    /// All must hold.
    public var operators: [AttributeOperator]
    public var location: SourceLocation?

    public init(path: String, operators: [AttributeOperator], location: SourceLocation? = nil) {
        self.path = path
        self.operators = operators
        self.location = location
    }
}

/// A test on one attribute value.
public enum AttributeOperator: Sendable, Hashable {
    /// A scalar in YAML: equals, ignoring case.
    case equals(ScalarValue)
    /// A list in YAML, or `in:`: equals any of them.
    case anyOf([ScalarValue])
    /// `notIn:`: equals none of them (a missing value satisfies it).
    case noneOf([ScalarValue])
    case startsWith(String)
    case endsWith(String)
    /// An unanchored, case-insensitive regular-expression search.
    case matches(String)
    /// `exists: true` holds for a present, non-null, non-empty value; `exists: false` for the rest.
    case exists(Bool)

    /// The operator keys a policy writes under an attribute (`department: { in: [...] }`).
    public enum Keyword: String, Sendable, Hashable, Codable, CaseIterable {
        case `in`, notIn, startsWith, endsWith, matches, exists
    }
}

/// A scalar written in a policy, or held by a user attribute.
///
/// Comparison is by canonical text, ignoring case: `true` equals `"True"`, `1` equals `"1"`.
public enum ScalarValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case number(Double)

    /// The text form values compare by.
    public var description: String {
        switch self {
        case let .string(text): text
        case let .bool(flag): flag ? "true" : "false"
        case let .number(value):
            if let integer = Int64(exactly: value) { String(integer) } else { String(value) }
        }
    }

    /// The lowercased canonical text, the key for case-insensitive comparison.
    public var comparisonKey: String { description.lowercased() }
}

extension ScalarValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}
