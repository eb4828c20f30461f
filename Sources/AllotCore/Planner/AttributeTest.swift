import Foundation
import Synchronization

/// An attribute condition ready to evaluate: operators with their operands lowercased and
/// regular expressions compiled.
///
/// The planner never evaluates it per user: it evaluates it once per distinct value of the
/// attribute (see ``CompiledPolicies``), which is what makes a million users cheap.
struct AttributeTest {
    enum Operation {
        case anyOf(Set<String>)
        case noneOf(Set<String>)
        case startsWith(String)
        case endsWith(String)
        case matches(NSRegularExpression)
        case exists(Bool)
    }

    let operations: [Operation]

    /// - Throws: the regular-expression compiler's error for an invalid `matches` pattern.
    init(_ condition: AttributeCondition) throws {
        operations = try condition.operators.map { op in
            switch op {
            case let .equals(value): .anyOf([value.comparisonKey])
            case let .anyOf(values): .anyOf(Set(values.map(\.comparisonKey)))
            case let .noneOf(values): .noneOf(Set(values.map(\.comparisonKey)))
            case let .startsWith(prefix): .startsWith(prefix.lowercased())
            case let .endsWith(suffix): .endsWith(suffix.lowercased())
            case let .matches(pattern): .matches(try PolicyPattern.compile(pattern))
            case let .exists(flag): .exists(flag)
            }
        }
    }

    /// Whether every operation holds for a value (`nil`: missing, null or empty).
    func holds(for value: JSONValue?) -> Bool {
        operations.allSatisfy { Self.holds($0, for: value) }
    }

    private static func holds(_ operation: Operation, for value: JSONValue?) -> Bool {
        guard let value, !value.isMissing else {
            // Missing satisfies only `notIn` and `exists: false`.
            switch operation {
            case .noneOf: return true
            case let .exists(flag): return !flag
            case .anyOf, .startsWith, .endsWith, .matches: return false
            }
        }
        if case let .exists(flag) = operation { return flag }
        if case let .array(elements) = value {
            // A list-valued attribute satisfies an operation when any element does.
            return elements.contains { element in !element.isMissing && holds(operation, forScalar: element) }
        }
        return holds(operation, forScalar: value)
    }

    private static func holds(_ operation: Operation, forScalar value: JSONValue) -> Bool {
        guard let text = value.scalarText else { return false }
        switch operation {
        case let .anyOf(keys): return keys.contains(text.lowercased())
        case let .noneOf(keys): return !keys.contains(text.lowercased())
        case let .startsWith(prefix): return text.lowercased().hasPrefix(prefix)
        case let .endsWith(suffix): return text.lowercased().hasSuffix(suffix)
        case let .matches(regex): return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        case let .exists(flag): return flag
        }
    }
}

extension JSONValue {
    /// The text a scalar compares by (before case folding); `nil` for lists and objects.
    var scalarText: String? {
        switch self {
        case let .string(text): text
        case let .bool(flag): ScalarValue.bool(flag).description
        case let .number(number): ScalarValue.number(number).description
        case .null, .array, .object: nil
        }
    }
}

/// The regular-expression dialect of `matches`: ICU's (Foundation's `NSRegularExpression`),
/// case-insensitive, an unanchored search. One place, so that validation and planning agree.
public enum PolicyPattern {
    /// Compiles a `matches` pattern.
    /// - Throws: the engine's error, whose description says what is wrong with the pattern.
    /// Compiled once per distinct pattern for the life of the process: policies are compiled
    /// again every cycle, and swift-corelibs-foundation leaks a copy of every pattern longer than
    /// 256 UTF-16 units it compiles (found by the loader's fuzzer; see docs/fuzzing.md).
    public static func compile(_ pattern: String) throws -> NSRegularExpression {
        if let cached = cache.withLock({ $0[pattern] }) { return cached }
        let compiled = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
        cache.withLock { $0[pattern] = compiled }
        return compiled
    }

    private static let cache = Mutex<[String: NSRegularExpression]>([:])

    /// `nil` when the pattern compiles, else a message for the person who wrote it.
    public static func problem(with pattern: String) -> String? {
        do {
            _ = try compile(pattern)
            return nil
        } catch {
            return "invalid regular expression /\(pattern)/ (ICU syntax, as in .NET and PCRE: escape special characters with a backslash)"
        }
    }
}
