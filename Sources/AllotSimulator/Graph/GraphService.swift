import AllotCore
import Foundation
import HTTPTypes
import Synchronization

/// The Graph v1.0 surface: routes a ``GraphRequest`` (top-level or batch item) through the
/// injected faults and the write quota to its handler, and frames errors in Graph's envelope.
struct GraphService: Sendable {
    let state: SimulatorState

    var maxPageSize: Int { state.configuration.maxPageSize }

    /// Answers one Graph request. Never throws: every failure is a Graph error response.
    func respond(to request: GraphRequest, origin: String, requestId: String, clientRequestId: String) -> GraphResponse
    {
        let now = Date().timeIntervalSince1970
        var request = request
        if state.configuration.consistencyLag > .zero {
            state.directory.withLock { $0.settle(now: state.configuration.clock.now) }
        }
        do throws(GraphError) {
            let route = try GraphRoute.resolve(method: request.method, segments: request.segments)
            let path = "/v1.0" + request.relativeURL
            if let fault = state.faults.withLock({
                $0.take(
                    [.throttle, .serverError, .failPage],
                    method: request.method.rawValue,
                    path: path,
                    isPagedListing: route.isPagedListing
                )
            }) {
                throw error(for: fault, caller: request.caller)
            }
            if let accepted = GraphPermissions.accepted(for: route, method: request.method.rawValue),
                request.caller.roles.isDisjoint(with: accepted)
            {
                throw GraphError.forbidden()
            }
            let envelopeFault =
                route == .batch && !request.isBatchItem
                ? state.faults.withLock {
                    $0.take([.batchStatus], method: request.method.rawValue, path: path, isPagedListing: false)
                }
                : nil
            if route.isPagedListing {
                request.repeatsPage =
                    state.faults.withLock {
                        $0.take([.repeatNextLink], method: request.method.rawValue, path: path, isPagedListing: true)
                    } != nil
            }
            var throttleHeaders = HTTPFields()
            if request.isWrite, route != .batch {
                throttleHeaders = try admitWrite(applicationId: request.caller.applicationId)
            }
            if request.bodyIsInvalid { throw GraphError.invalidJSON() }
            var response = try handle(
                route,
                request,
                origin: origin,
                requestId: requestId,
                clientRequestId: clientRequestId
            )
            for field in throttleHeaders { response.headers.append(field) }
            if let envelopeFault { applyEnvelopeFault(envelopeFault, to: &response, caller: request.caller) }
            return response
        } catch {
            return .error(error, requestId: requestId, clientRequestId: clientRequestId, date: UTCTime(now).graphDate)
        }
    }

    private func error(for fault: SimulatedFault, caller: Caller) -> GraphError {
        switch fault.kind {
        case .throttle: resourceUnitThrottling(retryAfterSeconds: fault.retryAfterSeconds, caller: caller)
        case .failPage: .serverError(status: 503)
        default: .serverError(status: fault.status)
        }
    }

    /// Graph's 429 for a spent resource-unit budget, with the headers that name the limit.
    private func resourceUnitThrottling(retryAfterSeconds: Int, caller: Caller) -> GraphError {
        var headers = HTTPFields()
        headers[.throttleScope] = "Tenant_Application/ReadWrite/\(caller.applicationId)/\(state.tenantId)"
        headers[.throttleInformation] = "ResourceUnitLimitExceeded"
        return .tooManyRequests(retryAfterSeconds: retryAfterSeconds, extraHeaders: headers)
    }

    /// A `batchStatus` fault: the batch ran, its items are answered, but the envelope's status
    /// is a 429 (with Graph's throttling headers) or a 5xx.
    private func applyEnvelopeFault(_ fault: SimulatedFault, to response: inout GraphResponse, caller: Caller) {
        response.status = HTTPResponse.Status(code: fault.status)
        guard fault.status == 429 else { return }
        for field in resourceUnitThrottling(retryAfterSeconds: fault.retryAfterSeconds, caller: caller).headers {
            response.headers[field.name] = field.value
        }
    }

    /// Counts a write against the quota; above 80 % use the answer carries
    /// `x-ms-throttle-limit-percentage`, over it the write is refused like Graph refuses it.
    private func admitWrite(applicationId: String) throws(GraphError) -> HTTPFields {
        let now = ContinuousClock.now
        guard let decision = state.quota.withLock({ $0?.admit(application: applicationId, now: now) }) else {
            return [:]
        }
        let tenantId = state.tenantId
        switch decision {
        case let .allowed(usage):
            var headers = HTTPFields()
            if usage > 0.8 {
                headers[.throttleLimitPercentage] = String(format: "%.2f", usage)
            }
            return headers
        case let .throttled(retryAfterSeconds):
            var headers = HTTPFields()
            headers[.throttleScope] = "Tenant_Application/Write/\(applicationId)/\(tenantId)"
            headers[.throttleInformation] = "WriteLimitExceeded"
            headers[.throttleLimitPercentage] = "1.00"
            throw GraphError.tooManyRequests(retryAfterSeconds: retryAfterSeconds, extraHeaders: headers)
        }
    }

    private func handle(
        _ route: GraphRoute,
        _ request: GraphRequest,
        origin: String,
        requestId: String,
        clientRequestId: String
    ) throws(GraphError) -> GraphResponse {
        switch route {
        case .users:
            return request.method == .post
                ? try createUser(request, origin: origin) : try listUsers(request, origin: origin)
        case let .user(key):
            switch request.method {
            case .patch: return try updateUser(key, request)
            case .delete: return try deleteUser(key)
            default: return try getUser(key, request, origin: origin)
            }
        case let .assignLicense(key): return try assignLicense(key, request, origin: origin)
        case .usersDelta: return try usersDelta(request, origin: origin)
        case .groupsDelta: return try groupsDelta(request, origin: origin)
        case .groups: return try listGroups(request, origin: origin)
        case let .group(key): return try getGroup(key, request, origin: origin)
        case let .groupMembers(key, transitive, usersOnly):
            return try listMembers(key, transitive: transitive, usersOnly: usersOnly, request, origin: origin)
        case let .memberReferences(group): return try addMember(toGroup: group, request)
        case let .memberReference(group, member): return try removeMember(member, fromGroup: group)
        case .subscribedSkus: return try listSubscribedSkus(request, origin: origin, single: nil)
        case let .subscribedSku(key): return try listSubscribedSkus(request, origin: origin, single: key)
        case .batch:
            guard !request.isBatchItem else {
                throw GraphError.badRequest("A batch request cannot contain another batch request.", code: "BadRequest")
            }
            return try batch(request, origin: origin, clientRequestId: clientRequestId)
        case .me:
            throw GraphError.badRequest(
                "/me request is only valid with delegated authentication flow.",
                code: "BadRequest"
            )
        case let .count(listing):
            return try count(listing, request)
        }
    }

    /// `GET /users/$count`, `/groups/$count` (both with the `$filter` their listings take),
    /// `/groups/{id}/transitiveMembers[/microsoft.graph.user]/$count`.
    private func count(_ listing: GraphRoute, _ request: GraphRequest) throws(GraphError) -> GraphResponse {
        guard request.isAdvancedQuery else {
            throw GraphError.unsupportedQuery(
                "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
            )
        }
        let filter = try request.query.option("filter").map { text throws(GraphError) in try ODataFilter.parse(text) }
        let value = try state.directory.withLock { directory throws(GraphError) -> Int in
            switch listing {
            case .users:
                guard let filter else { return directory.users.count }
                return try UserFilter(filter, store: directory.users).matchingUsers().count
            case .groups:
                guard let filter else { return directory.groups.count }
                var matching = 0
                for group in directory.groups where try Self.group(group, matches: filter) { matching += 1 }
                return matching
            case let .groupMembers(key, transitive, usersOnly):
                guard filter == nil else {
                    throw GraphError.unsupportedQuery("$filter on group members is not supported by the simulator.")
                }
                let listed = try members(of: key, transitive: transitive, usersOnly: usersOnly, request, in: directory)
                return listed.users.count + listed.groups.count
            default:
                preconditionFailure("only user, group and member listings are counted")
            }
        }
        return .count(value)
    }

    // MARK: Shared helpers

    /// `$top` within 1...maxPageSize, or the default.
    func pageSize(_ request: GraphRequest, default defaultSize: Int) throws(GraphError) -> Int {
        guard let text = request.query.option("top") else { return min(defaultSize, maxPageSize) }
        guard let top = Int(text), (1...maxPageSize).contains(top) else {
            throw GraphError.unsupportedQuery(
                "Invalid page size specified: '\(text)'. Must be between 1 and \(maxPageSize) inclusive."
            )
        }
        return top
    }

    /// Whether `$count=true` was asked for, checking Graph's rule that it needs `ConsistencyLevel: eventual`.
    func wantsCount(_ request: GraphRequest) throws(GraphError) -> Bool {
        guard let text = request.query.option("count") else { return false }
        guard text.lowercased() == "true" else { return false }
        guard request.isAdvancedQuery else {
            throw GraphError.badRequest("$count is not currently supported.")
        }
        return true
    }

    /// The page's `@odata.nextLink`: the request's own query with the next `$skiptoken`, or
    /// `nil` on the last page. A `repeatNextLink` fault makes it the page's own address.
    func nextLink(_ request: GraphRequest, origin: String, token: PageToken?) -> String? {
        if request.repeatsPage { return pageAddress(request, origin: origin) }
        guard let token else { return nil }
        let path = request.segments.map { URLCoding.encodeQueryValue($0) }.joined(separator: "/")
        let query = request.query.encoded(removingOptions: ["skiptoken"]) + ["$skiptoken=" + token.encoded]
        return "\(origin)/v1.0/\(path)?\(query.joined(separator: "&"))"
    }

    /// The absolute address of the page a request asked for.
    func pageAddress(_ request: GraphRequest, origin: String) -> String {
        "\(origin)/v1.0\(request.relativeURL)"
    }

    /// The offset a `$skiptoken` continues from.
    func offset(_ request: GraphRequest, kind: PageToken.Kind) throws(GraphError) -> Int {
        guard let text = request.query.option("skiptoken") else { return 0 }
        let token = try PageToken(decoding: text, expecting: kind)
        guard let offset = token.numbers.first else { throw PageToken.expired }
        return Int(offset)
    }
}
