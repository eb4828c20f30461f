import AllotCore

/// Maps one policy document onto ``Policy``, reporting every problem of its shape.
///
/// The checks that need the parsed policies only (names unique, SKUs managed, `replaces`
/// cycles, regular expressions, empty `match`) live in `PolicyValidation` in the core;
/// this type reports what the YAML itself gets wrong.
struct PolicyDecoder {
    let reader: NodeReader

    /// The policy, or nil when the document lacks a usable `name`, `match` or `licenses`.
    func decode(_ root: YAMLNode) -> Policy? {
        guard case .mapping = root.content else {
            reader.report(
                "a policy must be a mapping with `name`, `match` and `licenses`, got \(NodeReader.describe(root))",
                at: root
            )
            return nil
        }
        guard let fields = reader.fields(of: root, "", known: Keys.Policy.root, explain: placement(at: "")) else {
            return nil
        }

        var name: String?
        if let node = fields["name"], let text = reader.text(node, "name") {
            if text.contains(where: \.isNewline) {
                reader.report("`name` must be one line", at: node)
            } else {
                name = text
            }
        } else if fields["name"] == nil {
            reader.report("`name` is required: a name unique across all policy files", at: root)
        }
        let description = fields["description"].flatMap { reader.isNull($0) ? nil : reader.string($0, "description") }
        let priority = fields["priority"].flatMap { reader.integer($0, "priority") } ?? 0

        var match: Policy.Match?
        if let node = fields["match"], let key = fields.keyNode("match") {
            match = decodeMatch(node, at: reader.location(of: key))
        } else {
            reader.report(
                "`match` is required: who the policy applies to (`groups`, `attributes`, or `all: true`)",
                at: root
            )
        }

        var licenses: [Policy.LicenseGrant]?
        if let node = fields["licenses"] {
            licenses = decodeLicenses(node)
        } else {
            reader.report("`licenses` is required: the SKUs the policy grants, such as `- sku: SPE_E5`", at: root)
        }

        guard let name, let match, let licenses else { return nil }
        return Policy(
            name: name,
            description: description,
            priority: priority,
            match: match,
            licenses: licenses,
            location: reader.location(of: root)
        )
    }

    // MARK: - match

    private func decodeMatch(_ node: YAMLNode, at location: SourceLocation) -> Policy.Match {
        var match = Policy.Match(location: location)
        guard !reader.isNull(node) else { return match }
        let problemsBefore = reader.diagnostics.count
        guard let fields = reader.fields(of: node, "match", known: Keys.Policy.match, explain: placement(at: "match"))
        else {
            return Self.standIn(for: match)
        }
        if let all = fields["all"] {
            match.all = reader.bool(all, "match.all") ?? false
        }
        if let groups = fields["groups"] {
            match.groups = reader.references(groups, "match.groups", of: "group names or ids")
        }
        if let attributes = fields["attributes"] {
            match.attributes = decodeAttributes(attributes, "match.attributes")
        }
        if let exclude = fields["exclude"],
            let exclusion = reader.fields(
                of: exclude,
                "match.exclude",
                known: Keys.Policy.exclude,
                explain: placement(at: "match.exclude")
            )
        {
            match.exclude.groups =
                exclusion["groups"].flatMap { reader.references($0, "match.exclude.groups", of: "group names or ids") }
                ?? []
            match.exclude.users =
                exclusion["users"].flatMap {
                    reader.references($0, "match.exclude.users", of: "user principal names or ids")
                } ?? []
            match.exclude.attributes =
                exclusion["attributes"].map { decodeAttributes($0, "match.exclude.attributes") } ?? []
        }
        return reader.diagnostics.count > problemsBefore ? Self.standIn(for: match) : match
    }

    /// A `match` whose clauses failed to read stands in as `groups: []` (nobody) when
    /// nothing of it is left, so that validation does not report it as empty as well:
    /// its real problem is already reported, and a set with problems is never used.
    private static func standIn(for match: Policy.Match) -> Policy.Match {
        guard !match.hasClauses else { return match }
        var standIn = match
        standIn.groups = []
        return standIn
    }

    /// `match.attributes` or `match.exclude.attributes` (`clause`).
    private func decodeAttributes(_ node: YAMLNode, _ clause: String) -> [AttributeCondition] {
        guard case let .mapping(pairs) = node.content else {
            reader.report(
                reader.typeMismatch(clause, expected: "a mapping of user properties to conditions", node),
                at: node
            )
            return []
        }
        var conditions: [AttributeCondition] = []
        for pair in pairs {
            guard let name = reader.string(pair.key, "\(clause) key") else { continue }
            let path = "\(clause).\(name)"
            let segments = name.split(separator: ".", omittingEmptySubsequences: false)
            guard
                segments.allSatisfy({
                    !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                })
            else {
                reader.report(
                    "`\(name)` is not a user property name: use letters and digits, with dots for nested objects (onPremisesExtensionAttributes.extensionAttribute1)",
                    at: pair.key
                )
                continue
            }
            if Keys.Policy.booleanAttributes.contains(name.lowercased()) { refuseYAML11Booleans(pair.value, path) }
            if let operators = decodeCondition(pair.value, path, attribute: name) {
                conditions.append(
                    AttributeCondition(path: name, operators: operators, location: reader.location(of: pair.key))
                )
            }
        }
        return conditions
    }

    /// Reports every `yes`/`no`/`on`/`off`/`y`/`n` compared with a boolean attribute: text under
    /// YAML 1.2, so the condition would silently never hold (or, under `notIn`, always hold).
    private func refuseYAML11Booleans(_ node: YAMLNode, _ path: String) {
        switch node.content {
        case let .scalar(scalar):
            guard let meant = Keys.Policy.yaml11Booleans[scalar.text.lowercased()] else { return }
            reader.report(
                "`\(path)` is a boolean attribute and `\(scalar.text)` is text (YAML 1.2), so it never equals it: write `\(meant)`",
                at: node
            )
        case let .sequence(items):
            for item in items { refuseYAML11Booleans(item, path) }
        case let .mapping(pairs):
            for pair in pairs {
                guard case let .scalar(key) = pair.key.content, key.text == "in" || key.text == "notIn" else {
                    continue
                }
                refuseYAML11Booleans(pair.value, "\(path).\(key.text)")
            }
        }
    }

    /// A scalar (equals), a list (any of) or a mapping of operators.
    private func decodeCondition(_ node: YAMLNode, _ path: String, attribute: String) -> [AttributeOperator]? {
        switch node.content {
        case .scalar:
            if reader.isNull(node) {
                reader.report("`\(path)` has no value: to match users without it write `{ exists: false }`", at: node)
                return nil
            }
            return scalarValue(node, path).map { [.equals($0)] }
        case .sequence:
            return scalarValues(node, path).map { [.anyOf($0)] }
        case .mapping:
            guard let fields = reader.fields(of: node, path, known: Keys.Policy.operators, explain: operatorExplanation)
            else { return nil }
            // Only known keys are present (`fields` reported any other), so every one is a keyword.
            let present = fields.presentKeys.compactMap(AttributeOperator.Keyword.init(rawValue:))
            guard !present.isEmpty else {
                guard case let .mapping(pairs) = node.content, pairs.isEmpty else { return nil }
                reader.report(
                    "`\(path)` has no operator: use a value, a list, or one of \(Keys.Policy.operators.joined(separator: ", "))",
                    at: node
                )
                return nil
            }
            let operators = present.compactMap { keyword -> AttributeOperator? in
                let key = keyword.rawValue
                let value = fields[key]!
                let operatorPath = "\(path).\(key)"
                if Keys.Policy.dateOperators.contains(keyword), !PolicyDates.isDateAttribute(attribute) {
                    reader.report(
                        "`\(key)` compares dates, and `\(attribute)` is not a date attribute: the date attributes are "
                            + PolicyDates.attributes.joined(separator: ", "),
                        at: fields.keyNode(key)!
                    )
                    return nil
                }
                switch keyword {
                case .in: return scalarValues(value, operatorPath).map { .anyOf($0) }
                case .notIn: return scalarValues(value, operatorPath).map { .noneOf($0) }
                case .startsWith: return texts(value, operatorPath).map { .startsWith($0) }
                case .endsWith: return texts(value, operatorPath).map { .endsWith($0) }
                case .matches: return reader.text(value, operatorPath).map { .matches($0) }
                case .exists: return reader.bool(value, operatorPath).map { .exists($0) }
                case .before: return instant(value, operatorPath).map { .before($0) }
                case .after: return instant(value, operatorPath).map { .after($0) }
                case .olderThan: return reader.duration(value, operatorPath).map { .olderThan($0.components.seconds) }
                case .withinLast: return reader.duration(value, operatorPath).map { .withinLast($0.components.seconds) }
                }
            }
            return operators.count == present.count ? operators : nil
        }
    }

    private func operatorExplanation(_ key: String) -> String? {
        guard ClosestMatch.suggestion(for: key, among: Keys.Policy.operators) == nil else { return nil }
        return "operators are \(Keys.Policy.operators.joined(separator: ", ")); "
            + "for a property of a nested object write one dotted name, such as `onPremisesExtensionAttributes.extensionAttribute1`"
    }

    /// One text, or a list of them (any of).
    private func texts(_ node: YAMLNode, _ path: String) -> [String]? {
        guard case .sequence = node.content else { return reader.text(node, path).map { [$0] } }
        guard let items = reader.sequence(node, path), !items.isEmpty else {
            reader.report("`\(path)` must list at least one text", at: node)
            return nil
        }
        let texts = items.enumerated().compactMap { index, item in reader.text(item, "\(path)[\(index)]") }
        return texts.count == items.count ? texts : nil
    }

    /// A date (`2026-12-01`, midnight UTC) or an RFC 3339 date-time (`2026-12-01T09:00:00Z`).
    private func instant(_ node: YAMLNode, _ path: String) -> Int64? {
        if case let .scalar(scalar) = node.content, case let .string(text) = scalar.value,
            let instant = PolicyDates.instant(text)
        {
            return instant
        }
        reader.report(
            reader.typeMismatch(
                path,
                expected: "a date (2026-12-01) or a date-time with its zone (2026-12-01T09:00:00Z)",
                node
            ),
            at: node
        )
        return nil
    }

    private func scalarValues(_ node: YAMLNode, _ path: String) -> [ScalarValue]? {
        guard let items = reader.sequence(node, path, of: "values") else { return nil }
        let values = items.enumerated().compactMap { index, item in scalarValue(item, "\(path)[\(index)]") }
        return values.count == items.count ? values : nil
    }

    /// A value compared as written: `007` stays text, not the number 7.
    private func scalarValue(_ node: YAMLNode, _ path: String) -> ScalarValue? {
        if case let .scalar(scalar) = node.content {
            switch scalar.value {
            case let .string(text): return .string(text)
            case let .bool(flag): return .bool(flag)
            case let .int(integer):
                let number = ScalarValue.number(Double(integer))
                return number.description == scalar.text ? number : .string(scalar.text)
            case let .float(value) where value.isFinite:
                let number = ScalarValue.number(value)
                return number.description == scalar.text ? number : .string(scalar.text)
            case .float, .null: break
            }
        }
        reader.report(reader.typeMismatch(path, expected: "a value (text, a number, true or false)", node), at: node)
        return nil
    }

    // MARK: - licenses

    private func decodeLicenses(_ node: YAMLNode) -> [Policy.LicenseGrant]? {
        guard let items = reader.sequence(node, "licenses", of: "SKUs to grant") else { return nil }
        guard !items.isEmpty else {
            reader.report("`licenses` must list at least one SKU to grant", at: node)
            return nil
        }
        return items.enumerated().compactMap { index, item in decodeLicense(item, "licenses[\(index)]") }
    }

    private func decodeLicense(_ node: YAMLNode, _ path: String) -> Policy.LicenseGrant? {
        guard
            let fields = reader.fields(of: node, path, known: Keys.Policy.license, explain: placement(at: "licenses[]"))
        else { return nil }
        var sku: SkuReference?
        if let skuNode = fields["sku"] {
            sku = reader.text(skuNode, "\(path).sku").map { Reference($0, at: reader.location(of: skuNode)) }
        } else {
            reader.report("`\(path).sku` is required: the SKU's skuPartNumber (SPE_E5) or skuId", at: node)
        }
        var plans = Policy.PlanSelection.all
        if fields["disabledPlans"] != nil, fields["enabledPlans"] != nil,
            let later = fields.presentKeys.last(where: { $0.hasSuffix("Plans") })
        {
            reader.report(
                "`disabledPlans` and `enabledPlans` exclude each other: keep `disabledPlans` (a deny-list: plans Microsoft adds come on) "
                    + "or `enabledPlans` (an allow-list: plans Microsoft adds stay off)",
                at: fields.keyNode(later)!
            )
        } else if let disabled = fields["disabledPlans"] {
            plans =
                reader.references(disabled, "\(path).disabledPlans", of: "service plan names or ids").map {
                    .disabled($0)
                } ?? .all
        } else if let enabled = fields["enabledPlans"] {
            plans =
                reader.references(enabled, "\(path).enabledPlans", of: "service plan names or ids").map { .enabled($0) }
                ?? .all
        }
        let replaces = fields["replaces"].flatMap { reader.references($0, "\(path).replaces", of: "SKUs") } ?? []
        guard let sku else { return nil }
        return Policy.LicenseGrant(sku: sku, plans: plans, replaces: replaces, location: reader.location(of: node))
    }

    private func placement(at path: String) -> (String) -> String? {
        { key in Keys.placement(of: key, in: Keys.Policy.table, unknownAt: path) }
    }
}
