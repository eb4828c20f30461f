import AllotCore

/// Reads composed YAML nodes into values and collects a diagnostic for every problem,
/// so that a file is read to its end and reports all of them at once.
///
/// Every accessor takes the dotted `path` of the value (`licenses[0].sku`), which is how
/// messages name it, and returns nil after reporting when the value is unusable.
final class NodeReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    func location(of node: YAMLNode) -> SourceLocation {
        SourceLocation(file: file, line: node.line, column: node.column)
    }

    func report(_ message: String, at node: YAMLNode) {
        diagnostics.append(Diagnostic(message, at: location(of: node)))
    }

    func report(_ diagnostics: [Diagnostic]) {
        self.diagnostics += diagnostics
    }

    // MARK: - Mappings

    /// The entries of a mapping whose keys must be among `known`.
    ///
    /// Unknown keys are reported with a "did you mean" hint, unless `explain` has a better
    /// message for them (a key that belongs in another mapping, a secret written inline).
    func fields(
        of node: YAMLNode,
        _ path: String,
        known: [String],
        explain: (String) -> String? = { _ in nil }
    ) -> Fields? {
        guard case let .mapping(pairs) = node.content else {
            report(typeMismatch(path, expected: "a mapping", node), at: node)
            return nil
        }
        var entries: [String: YAMLPair] = [:]
        for pair in pairs {
            guard case let .scalar(key) = pair.key.content else {
                report("keys must be plain names, got \(Self.describe(pair.key))", at: pair.key)
                continue
            }
            if known.contains(key.text) {
                entries[key.text] = pair
            } else {
                report(unknownKey(key.text, path, known: known, explain: explain), at: pair.key)
            }
        }
        return Fields(entries: entries)
    }

    private func unknownKey(_ key: String, _ path: String, known: [String], explain: (String) -> String?) -> String {
        let place = path.isEmpty ? "" : " in `\(path)`"
        if key == "<<" {
            return "merge keys (`<<`) are not supported\(place): write the keys out"
        }
        if let explanation = explain(key) {
            return "unknown key `\(key)`\(place): \(explanation)"
        }
        if let suggestion = ClosestMatch.suggestion(for: key, among: known) {
            return "unknown key `\(key)`\(place); did you mean `\(suggestion)`?"
        }
        return "unknown key `\(key)`\(place); expected one of: " + known.joined(separator: ", ")
    }

    // MARK: - Scalars

    func string(_ node: YAMLNode, _ path: String) -> String? {
        if case let .scalar(scalar) = node.content, case let .string(text) = scalar.value { return text }
        report(typeMismatch(path, expected: "a string", node), at: node)
        return nil
    }

    /// A string that is not empty or blank.
    func text(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        guard !text.allSatisfy(\.isWhitespace) else {
            report("`\(path)` must not be empty", at: node)
            return nil
        }
        return text
    }

    func integer(_ node: YAMLNode, _ path: String) -> Int? {
        if case let .scalar(scalar) = node.content, case let .int(value) = scalar.value { return value }
        report(typeMismatch(path, expected: "an integer", node), at: node)
        return nil
    }

    func number(_ node: YAMLNode, _ path: String) -> Double? {
        if case let .scalar(scalar) = node.content {
            switch scalar.value {
            case let .int(value): return Double(value)
            case let .float(value) where value.isFinite: return value
            default: break
            }
        }
        report(typeMismatch(path, expected: "a number", node), at: node)
        return nil
    }

    func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        if case let .scalar(scalar) = node.content, case let .bool(value) = scalar.value { return value }
        report(typeMismatch(path, expected: "true or false", node), at: node)
        return nil
    }

    func isNull(_ node: YAMLNode) -> Bool {
        if case let .scalar(scalar) = node.content { return scalar.value == .null }
        return false
    }

    /// One of an enumeration's raw values; the message lists the valid ones.
    func choice<Value: RawRepresentable<String> & CaseIterable>(
        _ node: YAMLNode,
        _ path: String,
        of type: Value.Type = Value.self
    ) -> Value? {
        let valid = Value.allCases.map(\.rawValue)
        guard let text = string(node, path) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let suggestion = ClosestMatch.suggestion(for: text, among: valid).map { "did you mean `\($0)`? " } ?? ""
        let name = path.split(separator: ".").last.map(String.init) ?? path
        let place = name == path ? "" : " (`\(path)`)"
        report(
            "unknown \(name) `\(text)`\(place): \(suggestion)valid values are \(valid.joined(separator: ", "))",
            at: node
        )
        return nil
    }

    /// A duration such as `30s`, `15m`, `1h30m` or `2d`.
    func duration(_ node: YAMLNode, _ path: String) -> Duration? {
        if case let .scalar(scalar) = node.content, case let .string(text) = scalar.value,
            let duration = DurationText.parse(text)
        {
            return duration
        }
        report(typeMismatch(path, expected: "a duration such as 30s, 15m, 1h, 1h30m or 2d", node), at: node)
        return nil
    }

    // MARK: - Sequences

    func sequence(_ node: YAMLNode, _ path: String, of what: String = "values") -> [YAMLNode]? {
        if case let .sequence(items) = node.content { return items }
        report(typeMismatch(path, expected: "a list of \(what)", node), at: node)
        return nil
    }

    /// A list of names or ids, each a non-empty string; bad items are reported and left out.
    func references(_ node: YAMLNode, _ path: String, of what: String) -> [Reference]? {
        guard let items = sequence(node, path, of: what) else { return nil }
        return items.enumerated().compactMap { index, item in
            text(item, "\(path)[\(index)]").map { Reference($0, at: location(of: item)) }
        }
    }

    // MARK: - Messages

    /// "`priority` must be an integer, got string "high"".
    func typeMismatch(_ path: String, expected: String, _ node: YAMLNode) -> String {
        "`\(path)` must be \(expected), got \(Self.describe(node))"
    }

    /// What a node holds, for messages: `string "high"`, `integer 5`, `a list`.
    static func describe(_ node: YAMLNode) -> String {
        switch node.content {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case let .scalar(scalar):
            switch scalar.value {
            case .null: return "nothing (null)"
            case let .bool(value): return "boolean \(value)"
            case let .int(value): return "integer \(value)"
            case .float: return "number \(scalar.text)"
            case let .string(text): return "string \(quoted(text))"
            }
        }
    }

    /// A value shown in a message: quoted, escaped, and cut short when long.
    static func quoted(_ text: String) -> String {
        let limit = 60
        let shown = text.count > limit ? String(text.prefix(limit)) + "..." : text
        var result = "\""
        for scalar in shown.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// The known entries of one mapping, by key.
struct Fields {
    fileprivate let entries: [String: YAMLPair]

    subscript(key: String) -> YAMLNode? { entries[key]?.value }

    /// Where `key` is written, for messages about the entry as a whole.
    func keyNode(_ key: String) -> YAMLNode? { entries[key]?.key }

    /// The known keys present, in the order written.
    var presentKeys: [String] {
        entries.sorted { ($0.value.key.line, $0.value.key.column) < ($1.value.key.line, $1.value.key.column) }.map(
            \.key
        )
    }
}
