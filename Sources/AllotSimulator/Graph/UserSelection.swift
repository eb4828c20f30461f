import AllotCore
import HTTPTypes
import Synchronization

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
    /// Selected properties the caller may not read, written as `null` (``hiding(_:)``).
    private(set) var hidden: Set<String> = []

    /// - Parameters:
    ///   - select: the `$select` value, or `nil` for Graph's default properties.
    ///   - alwaysIncludeId: delta answers carry `id` whatever is selected.
    static func resolve(
        _ select: String?,
        store: UserStore,
        alwaysIncludeId: Bool = false
    ) throws(GraphError) -> UserSelection {
        var selection = UserSelection(isExplicit: select != nil)
        let requested =
            select.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: " ") } } ?? UserProperties.defaults
        for name in requested where !name.isEmpty {
            guard !name.contains("/") else {
                throw GraphError.badRequest(
                    "Parsing OData Select and Expand failed: Found a path with multiple navigation properties or a bad complex property path in a select clause. Please reword your query such that each level of select or expand only contains either TypeSegments or Properties.",
                    code: "BadRequest"
                )
            }
            if name == "*" {
                // Sign-in activity comes from the sign-in logs, only when named (user.md:
                // "Returned only on $select").
                for column in store.columns.indices where store.columns[column].name != "signInActivity" {
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
                throw GraphError.badRequest(
                    "Could not find a property named '\(name)' on type 'microsoft.graph.user'.",
                    code: "BadRequest"
                )
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
            if let column = store.columnIndex[name] {
                return .column(column, collection: UserProperties.collections.contains(name))
            }
            return UserProperties.collections.contains(name) ? .emptyCollection : .null
        }
    }

    /// The selection with these properties written as `null`, as Graph writes a property the
    /// caller lacks the permission to read.
    func hiding(_ names: Set<String>) -> UserSelection {
        var selection = self
        selection.hidden.formUnion(names)
        return selection
    }

    private mutating func add(_ name: String, _ source: Source) {
        guard !names.contains(name) else { return }
        names.append(name)
        fields.append((Array("\"\(name)\":".utf8), source))
    }

    /// Writes `{"name":value,...}` for one user; `odataType` adds `"@odata.type"` first (mixed
    /// listings); `only` limits the properties to these and `id` (delta's `return=minimal`).
    func write(
        user: Int,
        store: UserStore,
        odataType: Bool = false,
        only: Set<String>? = nil,
        into writer: inout JSONWriter
    ) {
        writer.byte(UInt8(ascii: "{"))
        var first = true
        if odataType {
            writer.raw("\"@odata.type\":\"#microsoft.graph.user\"")
            first = false
        }
        for (field, name) in zip(fields, names) {
            if let only, name != "id", !only.contains(name) { continue }
            writer.comma(&first)
            writer.raw(field.key)
            if hidden.contains(name) {
                writer.null()
                continue
            }
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

extension GraphService {
    /// A user `$select` resolved and checked against the caller: `signInActivity` needs
    /// `AuditLog.Read.All` and a Microsoft Entra ID P1 tenant (403 otherwise, as Graph answers),
    /// and `employeeLeaveDateTime` reads as `null` without `User-LifeCycleInfo.Read.All`.
    func userSelection(
        _ select: String?,
        store: UserStore,
        _ request: GraphRequest,
        alwaysIncludeId: Bool = false
    ) throws(GraphError) -> UserSelection {
        let selection = try UserSelection.resolve(select, store: store, alwaysIncludeId: alwaysIncludeId)
        if selection.names.contains("signInActivity") { try authorizeSignInActivity(request.caller) }
        if selection.names.contains("employeeLeaveDateTime"),
            request.caller.roles.isDisjoint(with: UserProperties.readLifecycleInfo)
        {
            return selection.hiding(["employeeLeaveDateTime"])
        }
        return selection
    }

    /// Selecting or filtering on `signInActivity`: the caller needs `AuditLog.Read.All`
    /// (Graph's 403 as observed: microsoftgraph/microsoft-graph-explorer-v4 #2731) and the tenant
    /// Microsoft Entra ID P1 or P2 (microsoftgraph/microsoft-graph-docs #12772, #14120).
    func authorizeSignInActivity(_ caller: Caller) throws(GraphError) {
        guard caller.roles.contains(GraphPermissions.readAuditLogs) else {
            throw GraphError(
                status: .forbidden,
                code: "Authentication_MSGraphPermissionMissing",
                message: "Calling principal does not have required MSGraph permissions AuditLog.Read.All"
            )
        }
        guard state.entraIDPremium.withLock({ $0 }) else {
            throw GraphError(
                status: .forbidden,
                code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                message: "Neither tenant is B2C or tenant doesn't have premium license"
            )
        }
    }
}
