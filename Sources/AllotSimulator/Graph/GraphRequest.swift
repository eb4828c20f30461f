import AllotCore
import HTTPTypes

/// One Graph call, top-level or an item of a `$batch`: what the handlers see.
struct GraphRequest: Sendable {
    var method: HTTPRequest.Method
    /// The decoded path segments below `/v1.0`.
    var segments: [String]
    /// The path and query as sent, below `/v1.0` (`/users?$top=5`): matched by faults.
    var relativeURL: String
    var query: QueryParameters
    var headers: HTTPFields
    var body: JSONValue?
    /// Whether a body was sent but is not JSON.
    var bodyIsInvalid: Bool
    /// Who the access token was issued to, and the app roles it carries.
    var caller: Caller
    var isBatchItem: Bool
    /// A `repeatNextLink` fault fired: the page links to itself.
    var repeatsPage = false

    /// Splits `/users/x/assignLicense?$select=id` (relative to `/v1.0`) into segments and query.
    init(
        method: HTTPRequest.Method,
        relativeURL: String,
        headers: HTTPFields,
        body: JSONValue?,
        bodyIsInvalid: Bool,
        caller: Caller,
        isBatchItem: Bool
    ) {
        self.method = method
        self.relativeURL = relativeURL
        let pathPart: Substring
        if let mark = relativeURL.firstIndex(of: "?") {
            pathPart = relativeURL[..<mark]
            query = QueryParameters(relativeURL[relativeURL.index(after: mark)...])
        } else {
            pathPart = relativeURL[...]
            query = QueryParameters(nil)
        }
        segments = pathPart.split(separator: "/").map { URLCoding.decode($0) }
        self.headers = headers
        self.body = body
        self.bodyIsInvalid = bodyIsInvalid
        self.caller = caller
        self.isBatchItem = isBatchItem
    }

    var isWrite: Bool {
        method == .post || method == .patch || method == .put || method == .delete
    }

    /// Whether the request asks for Graph's advanced queries, whose index lags behind writes.
    var isAdvancedQuery: Bool {
        headers[.consistencyLevel]?.lowercased() == "eventual"
    }
}

/// A Graph answer before it is framed as an HTTP response or a batch item.
struct GraphResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    /// JSON text (or plain text for `$count`); `nil` for `204 No Content`.
    var body: [UInt8]?
    /// Whether ``body`` is JSON (a batch embeds JSON as is and anything else base64-encoded).
    var bodyIsJSON = true
    /// For a `$batch`: its items, for the request log.
    var batchItems: [LoggedBatchItem]?

    static let jsonContentType =
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

    static func json(_ body: [UInt8], status: HTTPResponse.Status = .ok) -> GraphResponse {
        var headers = HTTPFields()
        headers[.contentType] = jsonContentType
        return GraphResponse(status: status, headers: headers, body: body, bodyIsJSON: true, batchItems: nil)
    }

    /// A `$count` answer: the number as `text/plain`.
    static func count(_ value: Int) -> GraphResponse {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain;charset=utf-8"
        return GraphResponse(
            status: .ok,
            headers: headers,
            body: Array(String(value).utf8),
            bodyIsJSON: false,
            batchItems: nil
        )
    }

    static func noContent() -> GraphResponse {
        GraphResponse(status: .noContent, headers: [:], body: nil, bodyIsJSON: true, batchItems: nil)
    }

    /// Graph's error envelope, with the request ids in `innerError`. A throttled answer also
    /// names its request ids in headers, as Graph's 429s (top level and batch items) do.
    static func error(_ error: GraphError, requestId: String, clientRequestId: String, date: String) -> GraphResponse {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"error\":{\"code\":")
        writer.string(error.code)
        writer.raw(",\"message\":")
        writer.string(error.message)
        writer.raw(",\"innerError\":{")
        for (name, value) in error.innerDetails {
            writer.key(name)
            writer.string(value)
            writer.byte(UInt8(ascii: ","))
        }
        writer.raw("\"date\":")
        writer.string(date)
        writer.raw(",\"request-id\":")
        writer.string(requestId)
        writer.raw(",\"client-request-id\":")
        writer.string(clientRequestId)
        writer.raw("}}}")
        var response = GraphResponse.json(writer.bytes, status: error.status)
        for field in error.headers { response.headers.append(field) }
        if error.status == .tooManyRequests {
            response.headers[.requestId] = requestId
            response.headers[.clientRequestId] = clientRequestId
        }
        return response
    }
}

/// What a Graph path names.
enum GraphRoute: Sendable, Equatable {
    case users
    case user(String)
    case assignLicense(String)
    case usersDelta
    case groupsDelta
    case groups
    case group(String)
    case groupMembers(String, transitive: Bool, usersOnly: Bool)
    /// `POST /groups/{id}/members/$ref`: adds a member.
    case memberReferences(String)
    /// `DELETE /groups/{id}/members/{memberId}/$ref`: removes a direct member.
    case memberReference(group: String, member: String)
    case subscribedSkus
    case subscribedSku(String)
    case batch
    case me
    /// `.../$count` of a listing: the number of items as text.
    indirect case count(GraphRoute)

    /// Resolves segments and method to a route, or the error Graph gives.
    static func resolve(method: HTTPRequest.Method, segments: [String]) throws(GraphError) -> GraphRoute {
        if segments.count > 1, segments.last == "$count" {
            let listing = try match(Array(segments.dropLast()))
            switch listing {
            case .users, .groups, .groupMembers:
                guard method == .get else { throw GraphError.methodNotAllowed() }
                return .count(listing)
            default:
                throw GraphError.noRoute(method: method, path: "/" + segments.joined(separator: "/"))
            }
        }
        let route = try match(segments)
        guard route.allows(method) else { throw GraphError.methodNotAllowed() }
        return route
    }

    private static func match(_ segments: [String]) throws(GraphError) -> GraphRoute {
        let path = "/" + segments.joined(separator: "/")
        func action(_ segment: String) -> String {
            var name = segment
            for prefix in ["microsoft.graph.", "graph."] where name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
            if name.hasSuffix("()") { name.removeLast(2) }
            return name
        }
        switch segments.count {
        case 1:
            switch segments[0].lowercased() {
            case "users": return .users
            case "groups": return .groups
            case "subscribedskus": return .subscribedSkus
            case "$batch": return .batch
            case "me": return .me
            default: break
            }
        case 2:
            switch segments[0].lowercased() {
            case "users": return action(segments[1]).lowercased() == "delta" ? .usersDelta : .user(segments[1])
            case "groups": return action(segments[1]).lowercased() == "delta" ? .groupsDelta : .group(segments[1])
            case "subscribedskus": return .subscribedSku(segments[1])
            default: break
            }
        case 3:
            if segments[0].lowercased() == "users", action(segments[2]).lowercased() == "assignlicense" {
                return .assignLicense(segments[1])
            }
            if segments[0].lowercased() == "groups" {
                switch segments[2].lowercased() {
                case "transitivemembers": return .groupMembers(segments[1], transitive: true, usersOnly: false)
                case "members": return .groupMembers(segments[1], transitive: false, usersOnly: false)
                default: break
                }
            }
        case 4:
            if segments[0].lowercased() == "groups", action(segments[3]).lowercased() == "user" {
                switch segments[2].lowercased() {
                case "transitivemembers": return .groupMembers(segments[1], transitive: true, usersOnly: true)
                case "members": return .groupMembers(segments[1], transitive: false, usersOnly: true)
                default: break
                }
            }
            if segments[0].lowercased() == "groups", segments[2].lowercased() == "members", segments[3] == "$ref" {
                return .memberReferences(segments[1])
            }
        case 5:
            if segments[0].lowercased() == "groups", segments[2].lowercased() == "members", segments[4] == "$ref" {
                return .memberReference(group: segments[1], member: segments[3])
            }
        default: break
        }
        throw GraphError.noRoute(method: .get, path: path)
    }

    private func allows(_ method: HTTPRequest.Method) -> Bool {
        switch self {
        case .users: method == .get || method == .post
        case .user: method == .get || method == .patch || method == .delete
        case .assignLicense, .batch, .memberReferences: method == .post
        case .memberReference: method == .delete
        case .me: true
        default: method == .get
        }
    }

    /// A listing that pages (the only kind `failPage` faults fail).
    var isPagedListing: Bool {
        switch self {
        case .users, .usersDelta, .groupsDelta, .groups, .groupMembers: true
        default: false
        }
    }
}
