import AllotCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import AllotSimulator

@Suite("TLS, delta, request log")
struct TransportTests {
    @Test("TLS with a self-signed certificate written to a file; the client trusts it and gets a token")
    func tls() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-sim-test-\(UUID().uuidString).pem"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = SimulatorConfiguration()
        configuration.tls = .selfSigned(writeCertificateTo: path)
        try await Harness.run(configuration: configuration) { harness in
            #expect(harness.endpoints.baseURL.hasPrefix("https://127.0.0.1:"))
            #expect(harness.endpoints.certificatePath == path)
            let written = try String(contentsOfFile: path, encoding: .utf8)
            #expect(written == harness.endpoints.certificatePEM)
            #expect(written.hasPrefix("-----BEGIN CERTIFICATE-----"))
            let token = try await harness.token()
            let reply = try await harness.graph(.GET, "/users?$select=id", token: token)
            #expect(reply.status == 200)
            #expect(reply.header("Strict-Transport-Security") != nil)
            #expect(reply["@odata.context"]?.stringValue?.hasPrefix("https://") == true)
        }
    }

    @Test("TLS from given certificate and key files")
    func tlsFiles() async throws {
        let generated = try SelfSignedCertificate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("allot-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try generated.certificatePEM.write(toFile: certificate, atomically: true, encoding: .utf8)
        try generated.privateKeyPEM.write(toFile: key, atomically: true, encoding: .utf8)
        var configuration = SimulatorConfiguration()
        configuration.tls = .files(certificate: certificate, privateKey: key)
        try await Harness.run(configuration: configuration) { harness in
            #expect(harness.endpoints.certificatePEM == generated.certificatePEM)
            let token = try await harness.token()
            #expect(!token.isEmpty)
        }
    }

    @Test("users delta: a full round in pages, then only what changed, and 'latest'")
    func delta() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 5)) { harness in
            let token = try await harness.token()
            let prefer = [("Prefer", "odata.maxpagesize=2")]
            var pages = try await harness.pages(
                "/users/delta()?$select=id,usageLocation",
                token: token,
                headers: prefer
            )
            #expect(pages.map(\.values.count) == [2, 2, 1])
            #expect(pages[0].header("Preference-Applied") == "odata.maxpagesize=2")
            let deltaLink = try #require(pages.last?["@odata.deltaLink"]?.stringValue)
            #expect(pages.dropLast().allSatisfy { $0["@odata.deltaLink"] == nil })
            #expect(pages[0].values[0]["usageLocation"] == .string("US"))

            let nothing = try await harness.graph(.GET, deltaLink, token: token)
            #expect(nothing.values.isEmpty)
            #expect(
                try await harness.graph(
                    .PATCH,
                    "/users/user3@contoso.com",
                    token: token,
                    json: #"{"usageLocation":"FR"}"#
                ).status == 204
            )
            pages = try await harness.pages(deltaLink, token: token)
            #expect(pages.flatMap(\.values).map { $0["id"] } == [.string(Fixture.userId(3).description)])
            #expect(pages.last?["@odata.deltaLink"] != nil)
            #expect(pages[0].values[0].objectValue?.keys.sorted() == ["id", "usageLocation"])

            let latest = try await harness.graph(.GET, "/users/delta?$deltatoken=latest", token: token)
            #expect(latest.values.isEmpty)
            #expect(latest["@odata.deltaLink"] != nil)
            let reselected = try await harness.graph(.GET, deltaLink + "&$select=id", token: token)
            #expect(reselected.status == 200, "a deltaLink takes a new $select (delta-query-overview.md)")
            let pageWithSelect = try await harness.graph(
                .GET,
                try #require(
                    try await harness.graph(.GET, "/users/delta", token: token, headers: prefer)["@odata.nextLink"]?
                        .stringValue
                ) + "&$select=id",
                token: token
            )
            #expect(pageWithSelect.status == 400, "$select beside a $skiptoken is refused")
            let stale = try await harness.graph(.GET, "/users/delta?$deltatoken=bogus", token: token)
            #expect(stale.status == 400)
            #expect(stale.errorCode == "Directory_ExpiredPageToken")
        }
    }

    @Test("the request log records method, path, status, client-request-id and User-Agent")
    func requestLog() async throws {
        try await Harness.run { harness in
            let token = try await harness.token()
            _ = try await harness.graph(
                .GET,
                "/users?$top=1",
                token: token,
                headers: [("client-request-id", "r-1"), ("User-Agent", "allot-test/1")]
            )
            let log = harness.simulator.requestLog()
            #expect(log.map(\.sequence) == [1, 2])
            #expect(log[0].path == "/\(SampleTenant.tenantId)/oauth2/v2.0/token")
            #expect(
                log[1]
                    == LoggedRequest(
                        sequence: 2,
                        method: "GET",
                        path: "/v1.0/users?$top=1",
                        status: 200,
                        clientRequestId: "r-1",
                        userAgent: "allot-test/1",
                        batchItems: nil
                    )
            )
        }
    }

    @Test("shutting down is graceful: a request in flight is answered before the server stops")
    func gracefulShutdown() async throws {
        let simulator = GraphSimulator(tenant: Fixture.tenant(users: 1), configuration: SimulatorConfiguration())
        simulator.addFault(
            SimulatedFault(kind: .latency, path: "openid-configuration", count: 1, delayMilliseconds: 800)
        )
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let status: Result<UInt, any Error>
        do {
            let inFlight = try await simulator.withRunning { simulator, endpoints in
                let url =
                    "\(endpoints.authority)/\(simulator.configuration.tenantId)/v2.0/.well-known/openid-configuration"
                let request = Task {
                    try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30)).status.code
                }
                // Leave the body (which shuts the server down) once the request has arrived and waits out its 800 ms.
                let deadline = ContinuousClock.now + .seconds(30)
                while simulator.state.faults.withLock({ $0.seen.first ?? 0 }) == 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                return request
            }
            status = await inFlight.result
        } catch {
            status = .failure(error)
        }
        try await client.shutdown()
        #expect(try status.get() == 200)
    }

    @Test("a tenant with duplicate user ids is refused with a message saying what to fix")
    func duplicateIds() async throws {
        var tenant = Fixture.tenant(users: 2)
        tenant.users[1].id = tenant.users[0].id
        await #expect(throws: DirectoryLoadError.duplicateUserId(Fixture.userId(0))) {
            try await GraphSimulator.withRunning(tenant: tenant, configuration: SimulatorConfiguration()) { _, _ in }
        }
    }
}
