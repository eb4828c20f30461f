import AllotCore
import Foundation
import HTTPTypes
import Synchronization

extension GraphService {
    /// Users per page at most when `signInActivity` is selected or filtered on (user-list.md:
    /// "the maximum page size is 500").
    static let signInActivityPageLimit = 500

    /// `GET /users`: `$select`, `$top`, `$filter`, `$count`, paged with `$skiptoken`.
    func listUsers(_ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let top = try pageSize(request, default: 100)
        let filterText = request.query.option("filter")
        let filtersSignIns = filterText?.lowercased().contains("signinactivity") == true
        if filtersSignIns { try authorizeSignInActivity(request.caller) }
        let count = try wantsCount(request)
        let offset = try offset(request, kind: .users)
        let filter = try filterText.map { text throws(GraphError) in try ODataFilter.parse(text) }
        var refusal: GraphResponse?
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let store = directory.users
            let selection = try userSelection(request.query.option("select"), store: store, request)
            if filtersSignIns || selection.names.contains("signInActivity"), top > Self.signInActivityPageLimit {
                refusal = Self.signInActivityPageRefusal()
                return []
            }
            let matches = try filter.map { filter throws(GraphError) in
                try UserFilter(filter, store: store).matchingUsers()
            }
            let total = matches?.count ?? store.count
            guard offset <= total else { throw PageToken.expired }
            let end = min(offset + top, total)
            var writer = JSONWriter(capacity: 128 + (end - offset) * 700)
            writer.raw("{\"@odata.context\":")
            writer.string("\(origin)/v1.0/$metadata#\(selection.contextSuffix("users"))")
            if count, offset == 0 {
                writer.raw(",\"@odata.count\":")
                writer.integer(total)
            }
            if let link = nextLink(
                request,
                origin: origin,
                token: end < total ? PageToken(kind: .users, numbers: [UInt64(end)]) : nil
            ) {
                writer.raw(",\"@odata.nextLink\":")
                writer.string(link)
            }
            writer.raw(",\"value\":[")
            var first = true
            for position in offset..<end {
                writer.comma(&first)
                selection.write(user: matches.map { Int($0[position]) } ?? position, store: store, into: &writer)
            }
            writer.raw("]}")
            return writer.bytes
        }
        return refusal ?? .json(body)
    }

    /// Graph's answer to a sign-in activity read of more than 500 users a page: observed with
    /// the then limit of 120 (microsoftgraph/msgraph-sdk-powershell #1898: "Cannot query data for
    /// more than 120 users at a time.", in this body rather than Graph's error envelope; the
    /// status was not recorded, the simulator sends 400).
    static func signInActivityPageRefusal() -> GraphResponse {
        var writer = JSONWriter(capacity: 200)
        writer.raw(
            "{\"@odata.context\":\"http://reportingservice.activedirectory.windowsazure.com/auditLogs/$metadata#Edm.String\",\"value\":"
        )
        writer.string("Cannot query data for more than \(signInActivityPageLimit) users at a time.")
        writer.byte(UInt8(ascii: "}"))
        return .json(writer.bytes, status: .badRequest)
    }

    /// `GET /users/{id | userPrincipalName}`.
    func getUser(_ key: String, _ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let store = directory.users
            guard let user = store.index(ofIdOrPrincipalName: key) else { throw GraphError.notFound(key) }
            let selection = try userSelection(request.query.option("select"), store: store, request)
            return Self.entity(user: user, store: store, selection: selection, origin: origin)
        }
        return .json(body)
    }

    /// One user with `@odata.context`, as `GET /users/{id}` and `assignLicense` answer.
    static func entity(user: Int, store: UserStore, selection: UserSelection, origin: String) -> [UInt8] {
        var entity = JSONWriter(capacity: 1024)
        selection.write(user: user, store: store, into: &entity)
        var writer = JSONWriter(capacity: entity.bytes.count + 128)
        writer.raw("{\"@odata.context\":")
        writer.string("\(origin)/v1.0/$metadata#\(selection.contextSuffix("users"))/$entity")
        if entity.bytes.count > 2 { writer.byte(UInt8(ascii: ",")) }
        writer.raw(entity.bytes.dropFirst())
        return writer.bytes
    }

    /// `POST /users/{id}/assignLicense`: 200 with the user.
    func assignLicense(_ key: String, _ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let user = try directory.assignLicense(
                user: key,
                body: request.body,
                rules: state.configuration.licensingRules
            )
            let selection = try UserSelection.resolve(nil, store: directory.users)
            return Self.entity(user: user, store: directory.users, selection: selection, origin: origin)
        }
        return .json(body)
    }
}

/// Evaluates an OData filter over users.
struct UserFilter {
    let filter: ODataFilter
    let store: UserStore

    init(_ filter: ODataFilter, store: UserStore) throws(GraphError) {
        self.filter = filter
        self.store = store
        try validate(filter)
    }

    private func validate(_ filter: ODataFilter) throws(GraphError) {
        switch filter {
        case let .and(left, right), let .or(left, right):
            try validate(left)
            try validate(right)
        case let .any(collection, member, value):
            guard collection.lowercased() == "assignedlicenses", member.lowercased() == "skuid", case .guid = value
            else {
                throw GraphError.unsupportedQuery(
                    "Unsupported query: only assignedLicenses/any(x:x/skuId eq {skuId}) is supported as a lambda."
                )
            }
        case let .equals(property, _), let .notEquals(property, _), let .isIn(property, _),
            let .startsWith(property, _):
            guard UserProperties.canonicalNames[property.lowercased()] != nil else {
                throw GraphError.badRequest(
                    "Property '\(property)' does not exist as a declared property or extension property."
                )
            }
        }
    }

    /// The matching users, in store order.
    func matchingUsers() -> [Int32] {
        switch filter {
        case let .equals(property, value)
        where property.lowercased() == "id" || property.lowercased() == "userprincipalname":
            return lookup(property, value).map { [Int32($0)] } ?? []
        case let .isIn(property, values)
        where property.lowercased() == "id" || property.lowercased() == "userprincipalname":
            return Set(values.compactMap { lookup(property, $0) }).sorted().map(Int32.init)
        default:
            var holdingMatches: [UInt32: Bool] = [:]
            var result: [Int32] = []
            for user in 0..<store.count where matches(filter, user: user, holdingMatches: &holdingMatches) {
                result.append(Int32(user))
            }
            return result
        }
    }

    private func lookup(_ property: String, _ value: ODataFilter.Literal) -> Int? {
        guard let text = value.text else { return nil }
        return property.lowercased() == "id"
            ? GUID(text).flatMap(store.index(ofId:)) : store.index(ofPrincipalName: text)
    }

    private func matches(_ filter: ODataFilter, user: Int, holdingMatches: inout [UInt32: Bool]) -> Bool {
        switch filter {
        case let .and(left, right):
            return matches(left, user: user, holdingMatches: &holdingMatches)
                && matches(right, user: user, holdingMatches: &holdingMatches)
        case let .or(left, right):
            return matches(left, user: user, holdingMatches: &holdingMatches)
                || matches(right, user: user, holdingMatches: &holdingMatches)
        case let .any(_, _, .guid(sku)):
            let holding = store.holdingOfUser[user]
            if let known = holdingMatches[holding] { return known }
            let result = store.holdings[holding].holds(sku)
            holdingMatches[holding] = result
            return result
        case .any:
            return false
        case let .equals(property, value):
            return equals(property, value, user: user)
        case let .notEquals(property, value):
            return !equals(property, value, user: user)
        case let .isIn(property, values):
            return values.contains { equals(property, $0, user: user) }
        case let .startsWith(property, prefix):
            guard let text = text(of: property, user: user) else { return false }
            return text.lowercased().hasPrefix(prefix.lowercased())
        }
    }

    private func text(of property: String, user: Int) -> String? {
        let name = UserProperties.canonicalNames[property.lowercased()] ?? property
        if name == "id" { return store.ids[user].description }
        return store.column(named: name)?.value(ofUser: user)?.stringValue
    }

    private func equals(_ property: String, _ literal: ODataFilter.Literal, user: Int) -> Bool {
        let name = UserProperties.canonicalNames[property.lowercased()] ?? property
        if name == "id" { return literal.text.flatMap(GUID.init) == store.ids[user] }
        guard let column = store.columnIndex[name] else { return literal == .null }
        let stored = store.columns[column].encodedValue(ofUser: user)
        let expected = literal.json.encoded
        guard stored.count == expected.count else { return false }
        return zip(stored, expected).allSatisfy { Self.foldASCII($0) == Self.foldASCII($1) }
    }

    private static func foldASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

extension HTTPField.Name {
    static let preferenceApplied = HTTPField.Name("Preference-Applied")!
}
