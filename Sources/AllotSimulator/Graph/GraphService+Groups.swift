import AllotCore
import Synchronization

extension GraphService {
    /// The group properties the simulator knows, by lowercased name, with Graph's default set.
    static let groupProperties: [String: String] = Dictionary(
        uniqueKeysWithValues: [
            "id", "displayName", "description", "mail", "mailEnabled", "mailNickname", "securityEnabled", "groupTypes",
            "createdDateTime", "visibility", "membershipRule", "membershipRuleProcessingState", "assignedLicenses",
            "licenseProcessingState", "onPremisesSyncEnabled", "securityIdentifier", "classification", "proxyAddresses",
            "renewedDateTime", "isAssignableToRole", "resourceProvisioningOptions", "resourceBehaviorOptions",
        ].map { ($0.lowercased(), $0) }
    )

    static let defaultGroupProperties = [
        "id", "createdDateTime", "description", "displayName", "groupTypes", "mail", "mailEnabled", "mailNickname",
        "membershipRule", "securityEnabled", "visibility",
    ]

    private func groupSelection(_ request: GraphRequest) throws(GraphError) -> (names: [String], explicit: Bool) {
        try Self.groupSelection(request.query.option("select"))
    }

    /// `$select` on groups: the canonical names, or Graph's default ones when there is none.
    static func groupSelection(
        _ select: String?,
        extra: Set<String> = []
    ) throws(GraphError) -> (names: [String], explicit: Bool) {
        guard let select else { return (Self.defaultGroupProperties, false) }
        var names: [String] = []
        for name in select.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) where !name.isEmpty {
            guard
                let canonical = Self.groupProperties[name.lowercased()]
                    ?? extra.first(where: { $0.lowercased() == name.lowercased() })
            else {
                throw GraphError.badRequest(
                    "Could not find a property named '\(name)' on type 'microsoft.graph.group'.",
                    code: "BadRequest"
                )
            }
            if !names.contains(canonical) { names.append(canonical) }
        }
        return (names, true)
    }

    private static func writeGroup(
        _ group: GroupRecord,
        properties: [String],
        odataType: Bool,
        into writer: inout JSONWriter
    ) {
        writer.byte(UInt8(ascii: "{"))
        var first = true
        if odataType {
            writer.raw("\"@odata.type\":\"#microsoft.graph.group\"")
            first = false
        }
        writeGroupFields(group, properties: properties, first: &first, into: &writer)
        writer.byte(UInt8(ascii: "}"))
    }

    /// The group's properties as `"name":value` pairs, without the braces.
    static func writeGroupFields(
        _ group: GroupRecord,
        properties: [String],
        first: inout Bool,
        into writer: inout JSONWriter
    ) {
        for name in properties {
            writer.comma(&first)
            writer.key(name)
            switch name {
            case "id": writer.guid(group.id)
            case "displayName": writer.string(group.displayName)
            case "mailEnabled": writer.bool(false)
            case "securityEnabled": writer.bool(true)
            case "visibility": writer.optionalString(group.visibility)
            case "mailNickname":
                writer.string(String(group.displayName.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(64)))
            case "groupTypes", "proxyAddresses", "assignedLicenses", "resourceProvisioningOptions",
                "resourceBehaviorOptions":
                writer.raw("[]")
            default: writer.null()
            }
        }
    }

    /// `GET /groups` with `$filter` on `displayName` or `id` (`eq`, `in`, `startswith`).
    func listGroups(_ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let top = try pageSize(request, default: 100)
        let count = try wantsCount(request)
        let offset = try offset(request, kind: .groups)
        let (properties, explicit) = try groupSelection(request)
        let filter = try request.query.option("filter").map { text throws(GraphError) in try ODataFilter.parse(text) }
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            var matches: [GroupRecord] = []
            for group in directory.groups {
                if let filter, !(try Self.group(group, matches: filter)) { continue }
                matches.append(group)
            }
            guard offset <= matches.count else { throw PageToken.expired }
            let end = min(offset + top, matches.count)
            var writer = JSONWriter(capacity: 256 + (end - offset) * 300)
            writer.raw("{\"@odata.context\":")
            writer.string(
                "\(origin)/v1.0/$metadata#" + (explicit ? "groups(\(properties.joined(separator: ",")))" : "groups")
            )
            if count, offset == 0 {
                writer.raw(",\"@odata.count\":")
                writer.integer(matches.count)
            }
            if let link = nextLink(
                request,
                origin: origin,
                token: end < matches.count ? PageToken(kind: .groups, numbers: [UInt64(end)]) : nil
            ) {
                writer.raw(",\"@odata.nextLink\":")
                writer.string(link)
            }
            writer.raw(",\"value\":[")
            var first = true
            for group in matches[offset..<end] {
                writer.comma(&first)
                Self.writeGroup(group, properties: properties, odataType: false, into: &writer)
            }
            writer.raw("]}")
            return writer.bytes
        }
        return .json(body)
    }

    static func group(_ group: GroupRecord, matches filter: ODataFilter) throws(GraphError) -> Bool {
        func text(_ property: String) throws(GraphError) -> String {
            switch property.lowercased() {
            case "displayname": return group.displayName
            case "id": return group.id.description
            case "mailnickname":
                return String(group.displayName.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(64))
            default:
                throw GraphError.unsupportedQuery(
                    "Unsupported or invalid query filter clause specified for property '\(property)' of resource 'Group'."
                )
            }
        }
        switch filter {
        case let .and(left, right):
            let first = try Self.group(group, matches: left)
            let second = try Self.group(group, matches: right)
            return first && second
        case let .or(left, right):
            let first = try Self.group(group, matches: left)
            let second = try Self.group(group, matches: right)
            return first || second
        case let .equals(property, value): return try text(property).lowercased() == value.text?.lowercased()
        case let .notEquals(property, value): return try text(property).lowercased() != value.text?.lowercased()
        case let .isIn(property, values):
            let actual = try text(property).lowercased()
            return values.contains { $0.text?.lowercased() == actual }
        case let .startsWith(property, prefix): return try text(property).lowercased().hasPrefix(prefix.lowercased())
        case .any: throw GraphError.unsupportedQuery("Unsupported query: lambda expressions on groups.")
        }
    }

    /// The members a listing shows: users (as store indices) and nested groups.
    ///
    /// A `HiddenMembership` group shows none to a caller without `Member.Read.Hidden` (an empty
    /// 200, the answer that hides a client's mistake least: graph-facts §10). An advanced query
    /// (`ConsistencyLevel: eventual`) reads the lagging index: membership as it was
    /// ``SimulatorConfiguration/consistencyLag`` ago.
    func members(
        of key: String,
        transitive: Bool,
        usersOnly: Bool,
        _ request: GraphRequest,
        in directory: Directory
    ) throws(GraphError) -> (users: [Int32], groups: [Int]) {
        let index = try Self.groupIndex(key, in: directory)
        if directory.groups[index].hidesMembership, !request.caller.roles.contains(GraphPermissions.readHiddenMembers) {
            return ([], [])
        }
        let lag = state.configuration.consistencyLag
        let users =
            request.isAdvancedQuery && lag > .zero
            ? directory.memberUsers(of: index, transitive: transitive, asOf: state.configuration.clock.now - lag)
            : directory.memberUsers(of: index, transitive: transitive)
        guard !usersOnly else { return (users, []) }
        return (users, transitive ? directory.nestedGroups(of: index) : directory.childGroups(of: index).sorted())
    }

    static func groupIndex(_ key: String, in directory: Directory) throws(GraphError) -> Int {
        guard let id = GUID(key) else { throw GraphError.badRequest("Invalid object identifier '\(key)'.") }
        guard let index = directory.groupIndex[id] else { throw GraphError.notFound(key) }
        return index
    }

    /// `GET /groups/{id}`.
    func getGroup(_ key: String, _ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let (properties, explicit) = try groupSelection(request)
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let group = directory.groups[try Self.groupIndex(key, in: directory)]
            var entity = JSONWriter()
            Self.writeGroup(group, properties: properties, odataType: false, into: &entity)
            var writer = JSONWriter(capacity: entity.bytes.count + 128)
            writer.raw("{\"@odata.context\":")
            writer.string(
                "\(origin)/v1.0/$metadata#" + (explicit ? "groups(\(properties.joined(separator: ",")))" : "groups")
                    + "/$entity"
            )
            if entity.bytes.count > 2 { writer.byte(UInt8(ascii: ",")) }
            writer.raw(entity.bytes.dropFirst())
            return writer.bytes
        }
        return .json(body)
    }

    /// `GET /groups/{id}/transitiveMembers` (every user and group below, flattened) or
    /// `/members` (direct ones), optionally cast to users only.
    func listMembers(
        _ key: String,
        transitive: Bool,
        usersOnly: Bool,
        _ request: GraphRequest,
        origin: String
    ) throws(GraphError) -> GraphResponse {
        let top = try pageSize(request, default: 100)
        let count = try wantsCount(request)
        let offset = try offset(request, kind: .members)
        if request.query.option("filter") != nil {
            throw GraphError.unsupportedQuery("$filter on group members is not supported by the simulator.")
        }
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let store = directory.users
            let selection = try userSelection(request.query.option("select"), store: store, request)
            let (users, nested) = try members(
                of: key,
                transitive: transitive,
                usersOnly: usersOnly,
                request,
                in: directory
            )
            let total = users.count + nested.count
            guard offset <= total else { throw PageToken.expired }
            let end = min(offset + top, total)
            var writer = JSONWriter(capacity: 256 + (end - offset) * 700)
            writer.raw("{\"@odata.context\":")
            writer.string(
                "\(origin)/v1.0/$metadata#" + (usersOnly ? selection.contextSuffix("users") : "directoryObjects")
            )
            if count, offset == 0 {
                writer.raw(",\"@odata.count\":")
                writer.integer(total)
            }
            if let link = nextLink(
                request,
                origin: origin,
                token: end < total ? PageToken(kind: .members, numbers: [UInt64(end)]) : nil
            ) {
                writer.raw(",\"@odata.nextLink\":")
                writer.string(link)
            }
            writer.raw(",\"value\":[")
            var first = true
            let groupProperties =
                selection.isExplicit
                ? selection.names.filter { $0 == "id" || $0 == "displayName" } : ["id", "displayName"]
            for position in offset..<end {
                writer.comma(&first)
                if position < users.count {
                    selection.write(user: Int(users[position]), store: store, odataType: !usersOnly, into: &writer)
                } else {
                    Self.writeGroup(
                        directory.groups[nested[position - users.count]],
                        properties: groupProperties,
                        odataType: true,
                        into: &writer
                    )
                }
            }
            writer.raw("]}")
            return writer.bytes
        }
        return .json(body)
    }

    /// `GET /subscribedSkus` (or one by id): seats as they stand now.
    func listSubscribedSkus(
        _ request: GraphRequest,
        origin: String,
        single key: String?
    ) throws(GraphError) -> GraphResponse {
        let known = [
            "accountId", "accountName", "appliesTo", "capabilityStatus", "consumedUnits", "id", "prepaidUnits",
            "servicePlans",
            "skuId", "skuPartNumber", "subscriptionIds",
        ]
        var properties = known
        if let select = request.query.option("select") {
            properties = []
            for name in select.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) where !name.isEmpty {
                guard let canonical = known.first(where: { $0.lowercased() == name.lowercased() }) else {
                    throw GraphError.badRequest(
                        "Could not find a property named '\(name)' on type 'microsoft.graph.subscribedSku'.",
                        code: "BadRequest"
                    )
                }
                if !properties.contains(canonical) { properties.append(canonical) }
            }
        }
        if request.query.option("filter") != nil {
            throw GraphError.unsupportedQuery(
                "This method supports only the $select OData query parameter; $filter is not supported."
            )
        }
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            var skus = directory.skus.indices.map(directory.subscribedSku)
            if let key {
                skus = skus.filter { $0.id?.lowercased() == key.lowercased() }
                guard !skus.isEmpty else { throw GraphError.notFound(key) }
            }
            var writer = JSONWriter(capacity: 4096 * max(1, skus.count))
            writer.raw("{\"@odata.context\":")
            writer.string("\(origin)/v1.0/$metadata#subscribedSkus" + (key == nil ? "" : "/$entity"))
            if key == nil { writer.raw(",\"value\":[") }
            var first = true
            for sku in skus {
                if key == nil {
                    writer.comma(&first)
                    writer.byte(UInt8(ascii: "{"))
                }
                var firstField = key == nil
                for name in properties {
                    if firstField { firstField = false } else { writer.byte(UInt8(ascii: ",")) }
                    writer.key(name)
                    Self.writeSkuField(name, sku, accountId: directory.tenantId, into: &writer)
                }
                if key == nil { writer.byte(UInt8(ascii: "}")) }
            }
            writer.raw(key == nil ? "]}" : "}")
            return writer.bytes
        }
        return .json(body)
    }

    private static func writeSkuField(
        _ name: String,
        _ sku: SubscribedSku,
        accountId: String,
        into writer: inout JSONWriter
    ) {
        switch name {
        case "accountId": writer.string(accountId)
        case "accountName": writer.string("Contoso")
        case "appliesTo": writer.optionalString(sku.appliesTo)
        case "capabilityStatus": writer.optionalString(sku.capabilityStatus)
        case "consumedUnits": writer.integer(sku.consumedUnits)
        case "id": writer.optionalString(sku.id)
        case "prepaidUnits":
            writer.raw("{\"enabled\":")
            writer.integer(sku.prepaidUnits.enabled)
            writer.raw(",\"lockedOut\":")
            writer.integer(sku.prepaidUnits.lockedOut)
            writer.raw(",\"suspended\":")
            writer.integer(sku.prepaidUnits.suspended)
            writer.raw(",\"warning\":")
            writer.integer(sku.prepaidUnits.warning)
            writer.byte(UInt8(ascii: "}"))
        case "servicePlans":
            writer.byte(UInt8(ascii: "["))
            var first = true
            for plan in sku.servicePlans {
                writer.comma(&first)
                writer.raw("{\"servicePlanId\":")
                writer.guid(plan.servicePlanId)
                writer.raw(",\"servicePlanName\":")
                writer.string(plan.servicePlanName)
                writer.raw(",\"provisioningStatus\":")
                writer.optionalString(plan.provisioningStatus)
                writer.raw(",\"appliesTo\":")
                writer.optionalString(plan.appliesTo)
                writer.byte(UInt8(ascii: "}"))
            }
            writer.byte(UInt8(ascii: "]"))
        case "skuId": writer.guid(sku.skuId)
        case "skuPartNumber": writer.string(sku.skuPartNumber)
        case "subscriptionIds": writer.strings([])
        default: writer.null()
        }
    }
}
