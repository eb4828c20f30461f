import Foundation
import Synchronization

/// An attribute condition ready to evaluate: operators with their operands lowercased,
/// regular expressions compiled, and date operators turned into a range of instants as of the
/// evaluation time.
///
/// The planner never evaluates it per user: it evaluates it once per distinct value of the
/// attribute, and a date test becomes ranges of instants (see ``CompiledPolicies`` and
/// ``ColumnTest``), which is what makes a million users cheap.
struct AttributeTest {
    enum Operation {
        case anyOf(Set<String>)
        case noneOf(Set<String>)
        case startsWith([String])
        case endsWith([String])
        case matches(NSRegularExpression)
        case exists(Bool)
        /// The instant lies in the range (seconds since the epoch).
        case during(ClosedRange<Int64>)
    }

    let operations: [Operation]

    /// The test compiled for a column: whether it holds for each distinct value and, in a date
    /// column, for which of the instants its dates are kept as. A test of dates alone (the
    /// lifecycle rules) is one range of instants, whatever the number of distinct dates.
    func compiled(for columns: AttributeColumns, column: Int) -> ColumnTest {
        let values = columns.values[column]
        guard let slot = columns.dateSlot[column] else {
            // Not a date column: date operations hold for none of its values.
            let table = values.indices.map { index in holds(for: index == 0 ? nil : values[index], instant: nil) }
            return ColumnTest(column: column, table: table, dates: nil)
        }
        let table = values.indices.map { index in
            index == 0 ? holds(for: nil, instant: nil) : holds(for: values[index], instant: values[index].instant)
        }
        return ColumnTest(column: column, table: table, dates: dateRanges(in: columns, slot: slot))
    }

    /// The instants (sorted, disjoint ranges) the test holds for, for the dates kept as instants.
    private func dateRanges(in columns: AttributeColumns, slot: Int) -> [ClosedRange<Int64>] {
        var lower = AttributeColumns.noInstant + 1
        var upper = Int64.max
        var textOperations = false
        for operation in operations {
            switch operation {
            case let .during(range):
                lower = max(lower, range.lowerBound)
                upper = min(upper, range.upperBound)
            case let .exists(flag):
                if !flag { return [] }
            case .anyOf, .noneOf, .startsWith, .endsWith, .matches:
                textOperations = true
            }
        }
        guard textOperations else { return lower <= upper ? [lower...upper] : [] }
        // A text operation on a date (rare: `startsWith: "2026-"`): evaluated on each distinct
        // date of the column, written out, and the dates it holds for joined into ranges.
        let width = columns.dateColumns.count
        var present = Set<Int64>()
        for user in 0..<(columns.instants.count / width) {
            let instant = columns.instants[user * width + slot]
            if instant != AttributeColumns.noInstant { present.insert(instant) }
        }
        var ranges: [ClosedRange<Int64>] = []
        var run: ClosedRange<Int64>?
        for instant in present.sorted() {
            if holds(for: .string(PolicyDates.text(instant)), instant: instant) {
                run = run.map { $0.lowerBound...instant } ?? instant...instant
            } else if let finished = run {
                ranges.append(finished)
                run = nil
            }
        }
        if let run { ranges.append(run) }
        return ranges
    }

    /// - Parameter evaluatedAt: the instant `olderThan` and `withinLast` count back from.
    /// - Throws: the regular-expression compiler's error for an invalid `matches` pattern.
    init(_ condition: AttributeCondition, evaluatedAt: Int64) throws {
        operations = try condition.operators.map { op in
            switch op {
            case let .equals(value): .anyOf([value.comparisonKey])
            case let .anyOf(values): .anyOf(Set(values.map(\.comparisonKey)))
            case let .noneOf(values): .noneOf(Set(values.map(\.comparisonKey)))
            case let .startsWith(prefixes): .startsWith(prefixes.map { $0.lowercased() })
            case let .endsWith(suffixes): .endsWith(suffixes.map { $0.lowercased() })
            case let .matches(pattern): .matches(try PolicyPattern.compile(pattern))
            case let .exists(flag): .exists(flag)
            case let .before(instant): .during((Int64.min + 1)...(instant - 1))
            case let .after(instant): .during((instant + 1)...Int64.max)
            case let .olderThan(seconds): .during((Int64.min + 1)...(evaluatedAt - seconds - 1))
            case let .withinLast(seconds): .during((evaluatedAt - seconds)...evaluatedAt)
            }
        }
    }

    /// Whether every operation holds for a value (`nil`: missing, null or empty), whose
    /// instant (`nil` when missing or not a date) date operations compare.
    func holds(for value: JSONValue?, instant: Int64?) -> Bool {
        operations.allSatisfy { operation in
            if case let .during(range) = operation { return instant.map(range.contains) ?? false }
            return Self.holds(operation, for: value)
        }
    }

    private static func holds(_ operation: Operation, for value: JSONValue?) -> Bool {
        guard let value, !value.isMissing else {
            // Missing satisfies only `notIn` and `exists: false`.
            switch operation {
            case .noneOf: return true
            case let .exists(flag): return !flag
            case .anyOf, .startsWith, .endsWith, .matches, .during: return false
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
        case let .startsWith(prefixes):
            let lowered = text.lowercased()
            return prefixes.contains { lowered.hasPrefix($0) }
        case let .endsWith(suffixes):
            let lowered = text.lowercased()
            return suffixes.contains { lowered.hasSuffix($0) }
        case let .matches(regex): return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        case let .exists(flag): return flag
        case .during: return false
        }
    }
}

/// An attribute condition compiled for one column of a tenant.
struct ColumnTest: Sendable {
    let column: Int
    /// Per value index of the column, whether the condition holds (in a date column, the entry
    /// at ``AttributeColumns/dateIndex`` is not used: ``dates`` says).
    let table: [Bool]
    /// In a date column, the instants it holds for (sorted, disjoint ranges), for the users
    /// whose date is kept as an instant; `nil` in other columns.
    let dates: [ClosedRange<Int64>]?

    /// Whether the condition holds for a user (the matcher evaluates it for all users at once).
    func holds(forUser user: Int, in columns: AttributeColumns) -> Bool {
        let index = columns.valueIndex(ofUser: user, column: column)
        guard let dates, index == AttributeColumns.dateIndex, let slot = columns.dateSlot[column] else {
            return table[index]
        }
        let instant = columns.instant(ofUser: user, dateSlot: slot)
        return dates.contains { $0.contains(instant) }
    }
}

extension JSONValue {
    /// The instant a date value stands for (seconds since the epoch); `nil` for anything else,
    /// and for Graph's placeholder of a sign-in that never happened (``PolicyDates/neverPlaceholder``).
    var instant: Int64? {
        guard case let .string(text) = self, let instant = PolicyDates.instant(text),
            instant != PolicyDates.neverPlaceholder
        else { return nil }
        return instant
    }

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
            return
                "invalid regular expression /\(pattern)/ (ICU syntax, as in .NET and PCRE: escape special characters with a backslash)"
        }
    }
}
