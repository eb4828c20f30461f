import AllotCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@testable import AllotSimulator

/// A running simulator and an HTTP client pointed at it, over real loopback HTTP.
struct Harness {
    let simulator: GraphSimulator
    let endpoints: SimulatorEndpoints
    let client: HTTPClient

    /// The HTTP methods the tests use.
    enum Method: String {
        case GET, POST, PATCH, PUT, DELETE
    }

    /// A response: status, headers and the body parsed as JSON when it is JSON.
    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let bytes: [UInt8]

        var json: JSONValue? { try? JSONParser.parse(bytes) }

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// The value at a path of object keys and array indices, e.g. `["error", "code"]`.
        subscript(_ path: Any...) -> JSONValue? {
            var value = json
            for step in path {
                switch (value, step) {
                case let (.object(members)?, key as String): value = members[key]
                case let (.array(items)?, index as Int): value = index < items.count ? items[index] : nil
                default: return nil
                }
            }
            return value
        }

        var errorCode: String? { self["error", "code"]?.stringValue }
        var errorMessage: String? { self["error", "message"]?.stringValue }
        var values: [JSONValue] { self["value"]?.arrayValue ?? [] }
    }

    static func run(
        tenant: Snapshot = Fixture.tenant(users: 3),
        configuration: SimulatorConfiguration = SimulatorConfiguration(),
        _ body: @Sendable (Harness) async throws -> Void
    ) async throws {
        try await run(simulator: GraphSimulator(tenant: tenant, configuration: configuration), body)
    }

    static func run(simulator: GraphSimulator, _ body: @Sendable (Harness) async throws -> Void) async throws {
        try await simulator.withRunning { simulator, endpoints in
            var configuration = HTTPClient.Configuration()
            if let pem = endpoints.certificatePEM {
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
                configuration.tlsConfiguration = tls
            }
            configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            do {
                try await body(Harness(simulator: simulator, endpoints: endpoints, client: client))
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    /// Any request; `path` is relative to the base URL (`/v1.0/users`) or absolute.
    func send(
        _ method: Method,
        _ path: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : endpoints.baseURL + path)
        request.method = HTTPMethod(rawValue: method.rawValue)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 256 * 1024 * 1024)
        return Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            bytes: Array(buffer.readableBytesView)
        )
    }

    /// A Graph call with a bearer token and an optional JSON body.
    func graph(
        _ method: Method,
        _ path: String,
        token: String,
        json: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var all = headers + [("Authorization", "Bearer \(token)")]
        if json != nil { all.append(("Content-Type", "application/json")) }
        return try await send(
            method,
            path.hasPrefix("http") ? path : "/v1.0" + path,
            headers: all,
            body: json.map { Array($0.utf8) }
        )
    }

    /// A form POST to the token endpoint.
    func tokenRequest(
        _ fields: [String: String],
        tenant: String = SampleTenant.tenantId,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        let form = fields.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.value)" }
            .joined(separator: "&")
        return try await send(
            .POST,
            "/\(tenant)/oauth2/v2.0/token",
            headers: headers + [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(form.utf8)
        )
    }

    /// A token by client secret (any client is accepted when none is registered).
    func token(
        clientId: String = "11111111-2222-3333-4444-555555555555",
        secret: String = "secret"
    ) async throws -> String {
        let reply = try await tokenRequest([
            "client_id": clientId, "client_secret": secret, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        ])
        #expect(reply.status == 200, "token request failed: \(String(decoding: reply.bytes, as: UTF8.self))")
        return try #require(reply["access_token"]?.stringValue)
    }

    /// A token of a client granted exactly these app roles (a client id of its own, so the
    /// grant touches no other token).
    func token(roles: Set<String>) async throws -> String {
        let clientId = UUID().uuidString.lowercased()
        simulator.setRoles(roles, forClient: clientId)
        return try await token(clientId: clientId)
    }

    /// Follows `@odata.nextLink` to the end, returning every page.
    func pages(
        _ path: String,
        token: String,
        headers: [(String, String)] = [],
        limit: Int = 10_000
    ) async throws -> [Reply] {
        var pages: [Reply] = []
        var next: String? = path
        while let link = next, pages.count < limit {
            let page = try await graph(.GET, link, token: token, headers: headers)
            pages.append(page)
            guard page.status == 200 else { break }
            next = page["@odata.nextLink"]?.stringValue
        }
        return pages
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? { objectValue?[key] }

    var intValue: Int? {
        if case let .number(number) = self { return Int(number) }
        return nil
    }
}
