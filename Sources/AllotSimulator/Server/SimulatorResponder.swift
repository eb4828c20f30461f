import AllotCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Every HTTP request the simulator receives starts here: the control API, the transport-level
/// faults, then Graph, the token endpoint, the OpenID configuration or IMDS; the answer is
/// written to the request log.
struct SimulatorResponder: HTTPResponder {
    typealias Context = SimulatorRequestContext

    let simulator: GraphSimulator
    let graph: GraphService

    init(simulator: GraphSimulator) {
        self.simulator = simulator
        graph = GraphService(state: simulator.state)
    }

    private var state: SimulatorState { simulator.state }

    func respond(to request: Request, context: Context) async throws -> Response {
        let pathAndQuery = request.head.path ?? "/"
        let path = request.uri.path
        if path == "/_simulator" || path.hasPrefix("/_simulator/") {
            guard context.isLoopbackPeer else {
                return Self.plain(.forbidden, "The control API answers loopback clients only.")
            }
            return try await ControlAPI(simulator: simulator).respond(to: request, path: path, context: context)
        }

        let method = request.method.rawValue
        if let fault = state.faults.withLock({
            $0.take([.latency], method: method, path: pathAndQuery, isPagedListing: false)
        }) {
            try await Task.sleep(for: .milliseconds(fault.delayMilliseconds))
        }
        if state.faults.withLock({
            $0.take([.dropConnection], method: method, path: pathAndQuery, isPagedListing: false)
        }) != nil {
            record(request, status: 0, batchItems: nil)
            context.channel.close(mode: .all, promise: nil)
            return Response(status: .ok)
        }

        let dropsAnswer =
            state.faults.withLock {
                $0.take([.dropAfterProcessing], method: method, path: pathAndQuery, isPagedListing: false)
            } != nil

        let response: Response
        var batchItems: [LoggedBatchItem]?
        if path == "/v1.0" || path.hasPrefix("/v1.0/") {
            (response, batchItems) = try await respondGraph(request, context: context)
        } else if path == "/metadata/identity/oauth2/token" {
            response = respondIMDS(request)
        } else {
            response = try await respondIdentity(request, path: path, context: context)
        }
        if dropsAnswer {
            // Carried out (the batch items keep their statuses in the log), never answered.
            record(request, status: 0, batchItems: batchItems)
            context.channel.close(mode: .all, promise: nil)
            return Response(status: .ok)
        }
        record(request, status: response.status.code, batchItems: batchItems)
        return response
    }

    private func record(_ request: Request, status: Int, batchItems: [LoggedBatchItem]?) {
        state.log.withLock {
            $0.append(
                method: request.method.rawValue,
                path: request.head.path ?? "/",
                status: status,
                clientRequestId: request.headers[.clientRequestId],
                userAgent: request.headers[.userAgent],
                batchItems: batchItems
            )
        }
    }

    /// `https://host:port` as the client addressed the simulator.
    private func origin(of request: Request) -> String {
        let scheme = simulator.configuration.tls == nil ? "http" : "https"
        return
            "\(scheme)://\(request.head.authority ?? "\(simulator.configuration.host):\(simulator.configuration.port)")"
    }

    // MARK: Graph

    private func respondGraph(_ request: Request, context: Context) async throws -> (Response, [LoggedBatchItem]?) {
        let requestId = UUID().uuidString.lowercased()
        let clientRequestId = request.headers[.clientRequestId] ?? requestId
        var response: GraphResponse
        let now = Date().timeIntervalSince1970
        let bearer = request.headers[.authorization].flatMap { header -> String? in
            guard header.lowercased().hasPrefix("bearer ") else { return nil }
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        do {
            let caller = try state.tokens.withLock { tokens throws(TokenStore.Rejection) in
                try tokens.validate(bearer, now: now)
            }
            let bodyBuffer = try await request.body.collect(upTo: context.maxUploadSize)
            var body: JSONValue?
            var bodyIsInvalid = false
            if bodyBuffer.readableBytes > 0 {
                do { body = try JSONParser.parse(bodyBuffer.readableBytesView) } catch { bodyIsInvalid = true }
            }
            let pathAndQuery = request.head.path ?? "/v1.0"
            let graphRequest = GraphRequest(
                method: request.method,
                relativeURL: String(pathAndQuery.dropFirst("/v1.0".count)),
                headers: request.headers,
                body: body,
                bodyIsInvalid: bodyIsInvalid,
                caller: caller,
                isBatchItem: false
            )
            response = graph.respond(
                to: graphRequest,
                origin: origin(of: request),
                requestId: requestId,
                clientRequestId: clientRequestId
            )
        } catch let rejection as TokenStore.Rejection {
            response = .error(
                .unauthorized(rejection.message),
                requestId: requestId,
                clientRequestId: clientRequestId,
                date: UTCTime(now).graphDate
            )
        }
        var headers = response.headers
        headers[.requestId] = requestId
        headers[.clientRequestId] = clientRequestId
        headers[.agsDiagnostic] =
            "{\"ServerInfo\":{\"DataCenter\":\"Allot Simulator\",\"Slice\":\"E\",\"Ring\":\"1\",\"ScaleUnit\":\"000\",\"RoleInstance\":\"SIMULATOR\"}}"
        headers[.cacheControl] = "no-cache"
        if simulator.configuration.tls != nil { headers[.strictTransportSecurity] = "max-age=31536000" }
        let body = response.body.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
        return (Response(status: response.status, headers: headers, body: body), response.batchItems)
    }

    // MARK: Identity

    private func respondIdentity(_ request: Request, path: String, context: Context) async throws -> Response {
        let segments = path.split(separator: "/").map(String.init)
        let correlationId = request.headers[.clientRequestId] ?? UUID().uuidString.lowercased()
        let now = Date().timeIntervalSince1970
        let origin = origin(of: request)
        switch segments.count {
        case 4 where segments[1] == "oauth2" && segments[2] == "v2.0" && segments[3] == "token":
            guard request.method == .post else {
                return Self.entra(
                    EntraError(
                        status: .methodNotAllowed,
                        error: "invalid_request",
                        code: 900_561,
                        message: "The endpoint only accepts POST requests."
                    ),
                    correlationId: correlationId,
                    now: now
                )
            }
            if state.faults.withLock({
                $0.take([.tokenOutage], method: "POST", path: request.head.path ?? path, isPagedListing: false)
            }) != nil {
                return Self.entra(.serviceUnavailable, correlationId: correlationId, now: now)
            }
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let pairs = URLCoding.pairs(Substring(String(buffer: body)), plusIsSpace: true)
            let form = Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            let tenant = segments[0]
            let endpoints = Set([tenant, simulator.configuration.tenantId, simulator.configuration.tenantDomain])
                .flatMap { name in
                    ["\(origin)/\(name)/oauth2/v2.0/token", "\(origin)/\(name)/oauth2/token"]
                }
            do throws(EntraError) {
                let grant = try simulator.issuer.authorize(
                    tenant: tenant,
                    form: form,
                    basicCredentials: Self.basicCredentials(request.headers[.authorization]),
                    tokenEndpoints: endpoints,
                    now: now
                )
                let lifetime = simulator.configuration.tokenLifetime.timeInterval
                let token = issueToken(for: grant, lifetime: lifetime, now: now)
                var writer = JSONWriter(capacity: 200)
                writer.raw("{\"token_type\":\"Bearer\",\"expires_in\":")
                writer.integer(Int(lifetime))
                writer.raw(",\"ext_expires_in\":")
                writer.integer(Int(lifetime))
                writer.raw(",\"access_token\":")
                writer.string(token)
                writer.byte(UInt8(ascii: "}"))
                return Self.json(
                    .ok,
                    writer.bytes,
                    extra: [.cacheControl: "no-store, no-cache", .clientRequestId: correlationId]
                )
            } catch {
                return Self.entra(error, correlationId: correlationId, now: now)
            }
        case 4 where segments[1] == "v2.0" && segments[2] == ".well-known" && segments[3] == "openid-configuration",
            3 where segments[1] == ".well-known" && segments[2] == "openid-configuration":
            return openIDConfiguration(tenant: segments[0], origin: origin, correlationId: correlationId, now: now)
        case 4 where segments[1] == "discovery" && segments[3] == "keys":
            return Self.json(.ok, Array("{\"keys\":[]}".utf8))
        default:
            return Self.json(
                .notFound,
                Array(
                    "{\"error\":{\"code\":\"NotFound\",\"message\":\"The simulator has no endpoint at this path; Graph is under /v1.0, the token endpoint at /{tenant}/oauth2/v2.0/token.\"}}"
                        .utf8
                )
            )
        }
    }

    /// The authority's OpenID Connect discovery document (MSAL reads it before asking for a token).
    private func openIDConfiguration(tenant: String, origin: String, correlationId: String, now: Double) -> Response {
        guard simulator.issuer.isThisTenant(tenant) || ["common", "organizations"].contains(tenant.lowercased()) else {
            return Self.entra(
                EntraError(
                    status: .badRequest,
                    error: "invalid_tenant",
                    code: 90002,
                    message:
                        "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
                correlationId: correlationId,
                now: now
            )
        }
        let tenantId = simulator.configuration.tenantId
        let base = "\(origin)/\(tenantId)"
        var writer = JSONWriter(capacity: 2048)
        writer.byte(UInt8(ascii: "{"))
        var first = true
        func field(_ name: String, _ value: String) {
            writer.comma(&first)
            writer.key(name)
            writer.string(value)
        }
        func list(_ name: String, _ values: [String]) {
            writer.comma(&first)
            writer.key(name)
            writer.strings(values)
        }
        field("token_endpoint", "\(base)/oauth2/v2.0/token")
        list("token_endpoint_auth_methods_supported", ["client_secret_post", "private_key_jwt", "client_secret_basic"])
        field("jwks_uri", "\(base)/discovery/v2.0/keys")
        list("response_modes_supported", ["query", "fragment", "form_post"])
        list("subject_types_supported", ["pairwise"])
        list("id_token_signing_alg_values_supported", ["RS256"])
        list("response_types_supported", ["code", "id_token", "code id_token", "id_token token"])
        list("scopes_supported", ["openid", "profile", "email", "offline_access"])
        field("issuer", "\(base)/v2.0")
        writer.comma(&first)
        writer.raw("\"request_uri_parameter_supported\":false")
        field("userinfo_endpoint", "\(origin)/oidc/userinfo")
        field("authorization_endpoint", "\(base)/oauth2/v2.0/authorize")
        field("device_authorization_endpoint", "\(base)/oauth2/v2.0/devicecode")
        writer.comma(&first)
        writer.raw("\"http_logout_supported\":true,\"frontchannel_logout_supported\":true")
        field("end_session_endpoint", "\(base)/oauth2/v2.0/logout")
        list("claims_supported", ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"])
        field("tenant_region_scope", "NA")
        field("cloud_instance_name", "microsoftonline.com")
        field("cloud_graph_host_name", "graph.windows.net")
        field("msgraph_host", "graph.microsoft.com")
        field("rbac_url", "https://pas.windows.net")
        writer.byte(UInt8(ascii: "}"))
        return Self.json(.ok, writer.bytes)
    }

    /// `GET /metadata/identity/oauth2/token` with `Metadata: true`.
    private func respondIMDS(_ request: Request) -> Response {
        let now = Date().timeIntervalSince1970
        if let outage = state.faults.withLock({
            $0.take([.tokenOutage], method: "GET", path: request.head.path ?? "", isPagedListing: false)
        }) {
            guard outage.status == 503 else {
                // IMDS answers 404 while it starts and 410 for a while after an update.
                let status = HTTPResponse.Status(code: outage.status)
                return Self.json(
                    status,
                    IMDSError("unavailable", "IMDS is not available yet; retry with backoff", status: status).body
                )
            }
            return Self.entra(.serviceUnavailable, correlationId: UUID().uuidString.lowercased(), now: now)
        }
        guard request.method == .get else {
            return Self.json(
                .methodNotAllowed,
                IMDSError("invalid_request", "The IMDS token endpoint only accepts GET.").body
            )
        }
        let query = QueryParameters(request.uri.query.map { Substring($0) })
        do throws(IMDSError) {
            let grant = try simulator.issuer.authorizeManagedIdentity(
                query: query,
                metadataHeader: request.headers[.metadata]
            )
            let lifetime = simulator.configuration.tokenLifetime.timeInterval
            let token = issueToken(for: grant, lifetime: lifetime, now: now)
            var writer = JSONWriter(capacity: 300)
            writer.raw("{\"access_token\":")
            writer.string(token)
            writer.raw(",\"client_id\":")
            writer.string(grant.applicationId)
            writer.raw(",\"expires_in\":")
            writer.string(String(Int(lifetime)))
            writer.raw(",\"expires_on\":")
            writer.string(String(Int(now + lifetime)))
            writer.raw(",\"ext_expires_in\":")
            writer.string(String(Int(lifetime)))
            writer.raw(",\"not_before\":")
            writer.string(String(Int(now)))
            writer.raw(",\"resource\":")
            writer.string(grant.resource)
            writer.raw(",\"token_type\":\"Bearer\",\"refresh_token\":\"\"}")
            return Self.json(.ok, writer.bytes)
        } catch {
            return Self.json(error.status, error.body)
        }
    }

    // MARK: Helpers

    private func issueToken(for grant: TokenIssuer.Grant, lifetime: Double, now: Double) -> String {
        let caller = state.caller(for: grant)
        return state.tokens.withLock { $0.issue(caller, tenantId: state.tenantId, lifetimeSeconds: lifetime, now: now) }
    }

    /// Client id and secret from `Authorization: Basic base64(urlencoded id:urlencoded secret)`.
    private static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let text = String(decoding: decoded, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (
            URLCoding.decode(text[..<colon], plusIsSpace: true),
            URLCoding.decode(text[text.index(after: colon)...], plusIsSpace: true)
        )
    }

    static func json(_ status: HTTPResponse.Status, _ body: [UInt8], extra: HTTPFields = [:]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        for field in extra { headers[field.name] = field.value }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(
            status: status,
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n"))
        )
    }

    private static func entra(_ error: EntraError, correlationId: String, now: Double) -> Response {
        json(
            error.status,
            error.body(correlationId: correlationId, now: now),
            extra: [.cacheControl: "no-store, no-cache"]
        )
    }
}
