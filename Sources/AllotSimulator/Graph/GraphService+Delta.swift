import AllotCore
import HTTPTypes
import Synchronization

/// What users and groups delta share: the query rules Graph applies to them, the state tokens,
/// their lifetime, and the page size.
extension GraphService {
    /// Where a delta request starts: a new round, "sync from now", or a token's place.
    enum DeltaStart {
        case token(DeltaToken)
        /// `$deltatoken=latest`: a deltaLink and no data.
        case latest(DeltaToken)
    }

    /// The most `$filter` ids a delta query takes (user-delta.md, group-delta.md: "There is a
    /// limit of 50 filtered objects").
    static let deltaFilterLimit = 50
    /// Objects per delta page unless `Prefer: odata.maxpagesize` asks for fewer.
    static let defaultDeltaPageSize = 200

    /// Reads a delta request: Graph's refusals of `$top`, `$expand` and `$orderby`, of `$select`
    /// beside a `$skiptoken`, of a `$filter` other than ids; then the token (checked for
    /// expiry) or a new round that starts at the directory's current `version`.
    func deltaStart(
        _ request: GraphRequest,
        resource: DeltaToken.Resource,
        version: UInt64,
        origin: String
    ) throws(GraphError) -> DeltaStart {
        for option in ["top", "expand", "orderby", "search"] where request.query.option(option) != nil {
            throw GraphError.unsupportedQuery(
                "The query parameter '$\(option)' isn't supported by \(resource.path) delta queries; page with Prefer: odata.maxpagesize and select with $select."
            )
        }
        let skipToken = request.query.option("skiptoken")
        let deltaToken = request.query.option("deltatoken").flatMap { $0.isEmpty ? nil : $0 }
        let select = request.query.option("select")
        let filter = request.query.option("filter")
        if skipToken != nil, select != nil {
            throw GraphError.badRequest(
                "Delta queries with both $select and $skiptoken aren't supported; follow the nextLink as returned."
            )
        }
        if skipToken != nil || (deltaToken != nil && deltaToken?.lowercased() != "latest"), filter != nil {
            throw GraphError.badRequest(
                "$filter belongs in the first request of a delta round; the nextLink and deltaLink carry it."
            )
        }
        let filterIds = try filter.map { text throws(GraphError) in try Self.deltaFilterIds(text) }
        if let skipToken {
            return .token(try checkedDeltaToken(skipToken, kind: .deltaPage, resource: resource, origin: origin))
        }
        if let deltaToken, deltaToken.lowercased() != "latest" {
            var token = try checkedDeltaToken(deltaToken, kind: .deltaLink, resource: resource, origin: origin)
            // A deltaLink starts the next round: changes after its `since`, up to now.
            token.round = version
            // delta-query-overview.md: "$select and $deltaLink query parameters are supported for
            // some Microsoft Entra resources so that customers can change the properties they
            // want to track for an existing @odata.deltaLink."
            if let select { token.select = select }
            return .token(token)
        }
        let fresh = DeltaToken(
            resource: resource,
            isFullRound: true,
            since: 0,
            round: version,
            select: select,
            filterIds: filterIds
        )
        guard deltaToken == nil else {
            return .latest(
                DeltaToken(
                    resource: resource,
                    isFullRound: false,
                    since: version,
                    round: version,
                    select: select,
                    filterIds: filterIds
                )
            )
        }
        return .token(fresh)
    }

    /// `$filter=id eq '...' or id eq '...'`, at most 50 ids.
    static func deltaFilterIds(_ text: String) throws(GraphError) -> [GUID] {
        let unsupported = GraphError.unsupportedQuery(
            "Delta queries filter by object id only: $filter=id eq '{id}' or id eq '{id}' (at most \(deltaFilterLimit))."
        )
        func ids(_ filter: ODataFilter) throws(GraphError) -> [GUID] {
            switch filter {
            case let .or(left, right): return try ids(left) + ids(right)
            case let .equals(property, value) where property.lowercased() == "id":
                guard let id = value.text.flatMap(GUID.init) else {
                    throw GraphError.badRequest("Invalid object identifier '\(value.text ?? "")'.")
                }
                return [id]
            default: throw unsupported
            }
        }
        let found = try ids(try ODataFilter.parse(text))
        guard found.count <= deltaFilterLimit else {
            throw GraphError.unsupportedQuery(
                "The $filter names \(found.count) objects; delta queries track at most \(deltaFilterLimit). Split the ids over several delta queries."
            )
        }
        return found
    }

    /// Decodes a token and refuses it, as Graph does, once it has expired.
    private func checkedDeltaToken(
        _ text: String,
        kind: PageToken.Kind,
        resource: DeltaToken.Resource,
        origin: String
    ) throws(GraphError) -> DeltaToken {
        let token = try DeltaToken(decoding: text, kind: kind, resource: resource)
        let lifetime = state.configuration.deltaTokenLifetime
        let lifetimeMilliseconds = UInt64(
            max(0, lifetime.components.seconds * 1000 + lifetime.components.attoseconds / 1_000_000_000_000_000)
        )
        let generation = state.deltaTokenGeneration.withLock { $0 }
        if token.generation < generation || state.elapsedMilliseconds() >= token.issuedAt + lifetimeMilliseconds {
            throw Self.syncStateNotFound(restartAt: restartAddress(for: token, origin: origin))
        }
        return token
    }

    /// The first request of a new round with the token's `$select` and `$filter` and an empty
    /// `$deltatoken`, as Graph's `Location` header carries it.
    private func restartAddress(for token: DeltaToken, origin: String) -> String {
        var query: [String] = []
        if let select = token.select { query.append("$select=" + URLCoding.encodeQueryValue(select)) }
        if let ids = token.filterIds {
            query.append("$filter=" + URLCoding.encodeQueryValue(ids.map { "id eq '\($0)'" }.joined(separator: " or ")))
        }
        query.append("$deltatoken=")
        return "\(origin)/v1.0/\(token.resource.path)/delta?" + query.joined(separator: "&")
    }

    /// An expired or reset delta token: `410 Gone`, a `Location` to start again from, and the
    /// error code the docs name for expiry. delta-query-overview.md gives both: "410 Gone and a
    /// Location header containing a request URL with an empty $deltatoken" (synchronization
    /// reset) and "a 40X-series error with error codes such as syncStateNotFound" (token
    /// duration); a 410 carries both here.
    static func syncStateNotFound(restartAt location: String) -> GraphError {
        var headers = HTTPFields()
        headers[.location] = location
        return GraphError(
            status: .gone,
            code: "syncStateNotFound",
            message:
                "The delta token has expired or the sync state was reset; start a full synchronization from the URL in the Location header.",
            headers: headers
        )
    }

    /// The token that continues a round, stamped with the time and generation of issue.
    func issuing(_ token: DeltaToken) -> DeltaToken {
        var token = token
        token.issuedAt = state.elapsedMilliseconds()
        token.generation = state.deltaTokenGeneration.withLock { $0 }
        return token
    }

    /// `Prefer: odata.maxpagesize=N` (capped at the simulator's maximum) and `return=minimal`,
    /// and the `Preference-Applied` value that acknowledges them.
    func deltaPreferences(_ request: GraphRequest) -> (pageSize: Int, minimal: Bool, applied: String?) {
        var pageSize = Self.defaultDeltaPageSize
        var applied: [String] = []
        var minimal = false
        for preference in (request.headers[.prefer] ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: " ") })
        {
            if preference.lowercased().hasPrefix("odata.maxpagesize="),
                let size = Int(preference.dropFirst("odata.maxpagesize=".count)), size > 0
            {
                pageSize = min(size, maxPageSize)
                applied.append("odata.maxpagesize=\(pageSize)")
            } else if preference.lowercased() == "return=minimal" {
                minimal = true
                applied.append("return=minimal")
            }
        }
        return (pageSize, minimal, applied.isEmpty ? nil : applied.joined(separator: ", "))
    }

    /// The page's link: `@odata.nextLink` with the token that continues the round, or the
    /// `@odata.deltaLink` that starts the next one. A `repeatNextLink` fault links the page to itself.
    func writeDeltaLink(
        _ token: DeltaToken,
        done: Bool,
        request: GraphRequest,
        origin: String,
        into writer: inout JSONWriter
    ) {
        if request.repeatsPage {
            writer.raw(",\"@odata.nextLink\":")
            writer.string(pageAddress(request, origin: origin))
            return
        }
        let base = "\(origin)/v1.0/\(token.resource.path)/delta()"
        if done {
            var next = DeltaToken(
                resource: token.resource,
                isFullRound: false,
                since: token.round,
                round: token.round,
                select: token.select,
                filterIds: token.filterIds
            )
            next = issuing(next)
            writer.raw(",\"@odata.deltaLink\":")
            writer.string("\(base)?$deltatoken=\(next.encoded(as: .deltaLink))")
        } else {
            writer.raw(",\"@odata.nextLink\":")
            writer.string("\(base)?$skiptoken=\(issuing(token).encoded(as: .deltaPage))")
        }
    }
}
