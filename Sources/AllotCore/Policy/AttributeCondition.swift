/// One `match.attributes` entry: a user property and the operators that must all hold.
///
/// Semantics (the product brief's "Precise definitions"): string comparisons ignore case;
/// a missing, null or empty attribute satisfies only `notIn` and `exists: false`; a
/// list-valued attribute satisfies an operator when any element does; dotted paths walk
/// nested objects (`onPremisesExtensionAttributes.extensionAttribute1`). Date operators
/// compare instants; a missing date, or a value that is not a date, satisfies none of them.
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
    /// `startsWith:`: starts with any of them (a list in YAML, or one text).
    case startsWith([String])
    /// `endsWith:`: ends with any of them.
    case endsWith([String])
    /// An unanchored, case-insensitive regular-expression search.
    case matches(String)
    /// `exists: true` holds for a present, non-null, non-empty value; `exists: false` for the rest.
    case exists(Bool)
    /// `before:` a date or date-time (an instant, seconds since the epoch): the date attribute is earlier.
    case before(Int64)
    /// `after:` a date or date-time: the date attribute is later.
    case after(Int64)
    /// `olderThan:` a duration (seconds): the date attribute is further in the past than that, as of the evaluation time.
    case olderThan(Int64)
    /// `withinLast:` a duration (seconds): the date attribute lies in that span before the evaluation time (not after it).
    case withinLast(Int64)

    /// The operator keys a policy writes under an attribute (`department: { in: [...] }`).
    public enum Keyword: String, Sendable, Hashable, Codable, CaseIterable {
        case `in`, notIn, startsWith, endsWith, matches, exists, before, after, olderThan, withinLast
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
