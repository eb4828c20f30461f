import AllotCore

/// A `$select` on users resolved against the store: for each property, its JSON key and where
/// its value comes from, so that writing a user is copying bytes.
struct UserSelection: Sendable {
    enum Source: Sendable {
        case id
        case assignedLicenses
        case licenseAssignmentStates
        /// A stored property; `collection` ones are written `[]` when the user has no value.
        case column(Int, collection: Bool)
        case emptyCollection
        case null
    }

    /// `"name":` and the source, in output order.
    private(set) var fields: [(key: [UInt8], source: Source)] = []
    /// The canonical names, for `@odata.context`.
    private(set) var names: [String] = []
    /// Whether the request named its properties (`@odata.context` lists them).
    let isExplicit: Bool

    /// - Parameters:
    ///   - select: the `$select` value, or `nil` for Graph's default properties.
    ///   - alwaysIncludeId: delta answers carry `id` whatever is selected.
    static func resolve(_ select: String?, store: UserStore, alwaysIncludeId: Bool = false) throws(GraphError) -> UserSelection {
        var selection = UserSelection(isExplicit: select != nil)
        let requested = select.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: " ") } } ?? UserProperties.defaults
        for name in requested where !name.isEmpty {
            guard !name.contains("/") else {
                throw GraphError.badRequest(
                    "Parsing OData Select and Expand failed: Found a path with multiple navigation properties or a bad complex property path in a select clause. Please reword your query such that each level of select or expand only contains either TypeSegments or Properties.",
                    code: "BadRequest")
            }
            if name == "*" {
                for column in store.columns.indices {
                    let name = store.columns[column].name
                    selection.add(name, .column(column, collection: UserProperties.collections.contains(name)))
                }
                selection.add("id", .id)
                continue
            }
            let canonical: String
            if let known = UserProperties.canonicalNames[name.lowercased()] {
                canonical = known
            } else if let stored = store.columns.first(where: { $0.name.lowercased() == name.lowercased() })?.name,
                stored.hasPrefix("extension_")
            {
                canonical = stored
            } else {
                throw GraphError.badRequest("Could not find a property named '\(name)' on type 'microsoft.graph.user'.", code: "BadRequest")
            }
            selection.add(canonical, Self.source(of: canonical, store: store))
        }
        if alwaysIncludeId, !selection.names.contains("id") { selection.add("id", .id) }
        return selection
    }

    private static func source(of name: String, store: UserStore) -> Source {
        switch name {
        case "id": return .id
        case "assignedLicenses": return .assignedLicenses
        case "licenseAssignmentStates": return .licenseAssignmentStates
        default:
            if let column = store.columnIndex[name] { return .column(column, collection: UserProperties.collections.contains(name)) }
            return UserProperties.collections.contains(name) ? .emptyCollection : .null
        }
    }

    private mutating func add(_ name: String, _ source: Source) {
        guard !names.contains(name) else { return }
        names.append(name)
        fields.append((Array("\"\(name)\":".utf8), source))
    }

    /// Writes `{"name":value,...}` for one user; `odataType` adds `"@odata.type"` first (mixed listings).
    func write(user: Int, store: UserStore, odataType: Bool = false, into writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        var first = true
        if odataType {
            writer.raw("\"@odata.type\":\"#microsoft.graph.user\"")
            first = false
        }
        for field in fields {
            writer.comma(&first)
            writer.raw(field.key)
            switch field.source {
            case .id: writer.guid(store.ids[user])
            case .assignedLicenses: writer.raw(store.holding(ofUser: user).assignedJSON)
            case .licenseAssignmentStates: writer.raw(store.holding(ofUser: user).statesJSON)
            case let .column(column, collection):
                if collection, !store.columns[column].hasValue(forUser: user) {
                    writer.raw("[]")
                } else {
                    writer.raw(store.columns[column].encodedValue(ofUser: user))
                }
            case .emptyCollection: writer.raw("[]")
            case .null: writer.null()
            }
        }
        writer.byte(UInt8(ascii: "}"))
    }

    /// `users(id,displayName)` or `users` for `@odata.context`.
    func contextSuffix(_ entitySet: String) -> String {
        isExplicit ? "\(entitySet)(\(names.joined(separator: ",")))" : entitySet
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}
