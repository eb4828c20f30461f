import AllotCore
import AsyncHTTPClient
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Faults, the write quota and the control API")
struct FaultTests {
    @Test("throttle: 429 with Retry-After for the matching requests only, then through")
    func throttle() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(
                SimulatedFault(kind: .throttle, method: "GET", path: "/users", after: 1, count: 2, retryAfterSeconds: 7)
            )
            let statuses = try await (0..<4).asyncMap { _ in try await harness.graph(.GET, "/users", token: token) }
            #expect(statuses.map(\.status) == [200, 429, 429, 200])
            #expect(statuses[1].header("Retry-After") == "7")
            #expect(statuses[1].errorCode == "TooManyRequests")
            let other = try await harness.graph(.GET, "/subscribedSkus", token: token)
            #expect(other.status == 200)
        }
    }

    @Test("a throttled batch item gets its own 429 with Retry-After in its headers")
    func throttleBatchItem() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(
                SimulatedFault(kind: .throttle, path: "user1@contoso.com/assignLicense", retryAfterSeconds: 3)
            )
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: BatchTests.batch((0..<3).map { BatchTests.item("\($0)", user: $0, add: Fixture.powerBI) })
            )
            #expect(reply.status == 200)
            let byId = BatchTests.responses(reply)
            #expect(byId["0"]?["status"]?.intValue == 200)
            #expect(byId["1"]?["status"]?.intValue == 429)
            #expect(byId["1"]?["headers"]?["Retry-After"] == .string("3"))
            #expect(byId["2"]?["status"]?.intValue == 200)
        }
    }

    @Test("a throttled answer names its limit and request, top level and in a batch item")
    func throttleHeaders() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let token = try await harness.token(clientId: "app-9")
            harness.simulator.addFault(
                SimulatedFault(kind: .throttle, path: "/users/user0@contoso.com", count: 2, retryAfterSeconds: 4)
            )
            let top = try await harness.graph(.GET, "/users/user0@contoso.com", token: token)
            #expect(top.status == 429)
            #expect(top.header("Retry-After") == "4")
            #expect(top.header("x-ms-throttle-scope") == "Tenant_Application/ReadWrite/app-9/\(SampleTenant.tenantId)")
            #expect(top.header("x-ms-throttle-information") == "ResourceUnitLimitExceeded")
            #expect(top.header("request-id") == top["error", "innerError", "request-id"]?.stringValue)

            let batch = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: BatchTests.batch([#"{"id":"1","method":"GET","url":"/users/user0@contoso.com"}"#])
            )
            let item = try #require(BatchTests.responses(batch)["1"])
            #expect(item["status"]?.intValue == 429)
            let headers = try #require(item["headers"]?.objectValue)
            #expect(headers["Retry-After"] == .string("4"))
            #expect(
                headers["x-ms-throttle-scope"] == .string("Tenant_Application/ReadWrite/app-9/\(SampleTenant.tenantId)")
            )
            #expect(headers["x-ms-throttle-information"] == .string("ResourceUnitLimitExceeded"))
            #expect(headers["request-id"] != nil)
            #expect(headers["request-id"] == item["body"]?["error"]?["innerError"]?["request-id"])
        }
    }

    @Test(
        "batchStatus: the outer $batch answers 429 or 5xx, yet every item ran and is answered",
        arguments: [429, 503]
    )
    func batchStatus(status: Int) async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let token = try await harness.token(clientId: "app-1")
            harness.simulator.addFault(
                SimulatedFault(kind: .batchStatus, path: "/$batch", retryAfterSeconds: 5, status: status)
            )
            harness.simulator.addFault(
                SimulatedFault(kind: .throttle, path: "user1@contoso.com/assignLicense", retryAfterSeconds: 5)
            )
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: BatchTests.batch((0..<3).map { BatchTests.item("\($0)", user: $0, add: Fixture.visio) })
            )
            #expect(reply.status == status)
            #expect(reply.header("Retry-After") == (status == 429 ? "5" : nil))
            #expect(
                reply.header("x-ms-throttle-scope")
                    == (status == 429 ? "Tenant_Application/ReadWrite/app-1/\(SampleTenant.tenantId)" : nil)
            )
            let byId = BatchTests.responses(reply)
            #expect(byId.mapValues { $0["status"]?.intValue } == ["0": 200, "1": 429, "2": 200])
            let holders = harness.simulator.currentTenant().users.filter {
                $0.assignedLicenses.contains { $0.skuId == Fixture.visio }
            }
            #expect(holders.map(\.userPrincipalName).sorted() == ["user0@contoso.com", "user2@contoso.com"])
            #expect(harness.simulator.requestLog().last?.status == status)
        }
    }

    @Test("dropAfterProcessing: the removal is made, the answer never comes, and the retry meets Graph's 400")
    func dropAfterProcessing() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let token = try await harness.token()
            let removal = AssignLicenseTests.body(remove: [Fixture.e3])
            harness.simulator.addFault(SimulatedFault(kind: .dropAfterProcessing, path: "/assignLicense"))
            await #expect(throws: (any Error).self) {
                try await harness.graph(.POST, "/users/user1@contoso.com/assignLicense", token: token, json: removal)
            }
            #expect(
                harness.simulator.currentTenant().users[1].assignedLicenses.isEmpty,
                "the first attempt was carried out"
            )
            let retry = try await harness.graph(
                .POST,
                "/users/user1@contoso.com/assignLicense",
                token: token,
                json: removal
            )
            #expect(retry.status == 400)
            #expect(retry.errorMessage == "User does not have a corresponding license.")
            #expect(harness.simulator.requestLog().map(\.status).suffix(2) == [0, 400])
        }
    }

    @Test("dropAfterProcessing on $batch: every item runs (the log keeps their statuses), no answer comes")
    func dropAfterProcessingBatch() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .dropAfterProcessing, path: "/$batch"))
            let removal =
                #"{"id":"1","method":"POST","url":"/users/user1@contoso.com/assignLicense","headers":{"Content-Type":"application/json"},"body":\#(AssignLicenseTests.body(remove: [Fixture.e3]))}"#
            await #expect(throws: (any Error).self) {
                try await harness.graph(
                    .POST,
                    "/$batch",
                    token: token,
                    json: BatchTests.batch([removal, BatchTests.item("2", user: 0, add: Fixture.visio)])
                )
            }
            let logged = try #require(harness.simulator.requestLog().last)
            #expect(logged.status == 0)
            #expect(logged.batchItems?.map(\.status) == [200, 200])
            let users = harness.simulator.currentTenant().users
            #expect(users[1].assignedLicenses.isEmpty)
            #expect(users[0].assignedLicenses.map(\.skuId) == [Fixture.visio])
        }
    }

    @Test("repeatNextLink: a page links to itself, so a client that does not notice reads it forever")
    func repeatNextLink() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 25)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .repeatNextLink, path: "/users", after: 1))
            let first = try await harness.graph(.GET, "/users?$top=10&$select=id", token: token)
            let second = try #require(first["@odata.nextLink"]?.stringValue)
            let repeated = try await harness.graph(.GET, second, token: token)
            #expect(repeated["@odata.nextLink"]?.stringValue == second)
            #expect(repeated.values.count == 10)
            let onward = try await harness.graph(.GET, second, token: token)
            let third = try #require(onward["@odata.nextLink"]?.stringValue)
            #expect(third != second, "once the fault is spent the listing moves on")
            let last = try await harness.graph(.GET, third, token: token)
            #expect(last.values.count == 5)
            #expect(last["@odata.nextLink"] == nil)
        }
    }

    @Test("serverError answers the chosen 5xx", arguments: [500, 502, 503, 504])
    func serverError(status: Int) async throws {
        try await Harness.run { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .serverError, path: "/subscribedSkus", status: status))
            let failed = try await harness.graph(.GET, "/subscribedSkus", token: token)
            #expect(failed.status == status)
            #expect(failed.errorCode != nil)
            #expect(try await harness.graph(.GET, "/subscribedSkus", token: token).status == 200)
        }
    }

    @Test("failPage fails the third page of a listing, and only pages")
    func failPage() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 50)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .failPage, path: "/users", after: 2))
            #expect(try await harness.graph(.GET, "/users/user0@contoso.com", token: token).status == 200)
            let pages = try await harness.pages("/users?$top=10", token: token)
            #expect(pages.map(\.status) == [200, 200, 503])
            let again = try await harness.pages("/users?$top=10", token: token)
            #expect(again.map(\.status) == [200, 200, 200, 200, 200])
        }
    }

    @Test("latency delays the answer; the answer itself is unchanged")
    func latency() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .latency, path: "/users", delayMilliseconds: 50))
            let reply = try await harness.graph(.GET, "/users", token: token)
            #expect(reply.status == 200)
            #expect(reply.values.count == 1)
            #expect(harness.simulator.faults().count == 1)
        }
    }

    @Test("dropConnection closes the connection without an answer; the next request works")
    func dropConnection() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            harness.simulator.addFault(SimulatedFault(kind: .dropConnection, path: "/users"))
            await #expect(throws: (any Error).self) { try await harness.graph(.GET, "/users", token: token) }
            #expect(try await harness.graph(.GET, "/users", token: token).status == 200)
            #expect(harness.simulator.requestLog().contains { $0.status == 0 })
        }
    }

    @Test("tokenOutage: the token endpoint and IMDS answer 503 with an Entra body")
    func tokenOutage() async throws {
        try await Harness.run { harness in
            harness.simulator.addFault(SimulatedFault(kind: .tokenOutage, count: 2))
            let token = try await harness.tokenRequest([
                "client_id": "a", "client_secret": "b", "grant_type": "client_credentials",
                "scope": "https://graph.microsoft.com/.default",
            ])
            #expect(token.status == 503)
            #expect(token["error"] == .string("temporarily_unavailable"))
            #expect(token["error_codes"] == .array([.number(90006)]))
            let imds = try await harness.send(
                .GET,
                "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/",
                headers: [("Metadata", "true")]
            )
            #expect(imds.status == 503)
            #expect(try await harness.token().isEmpty == false)
        }
    }

    @Test("faults given as text parse like the command line's --fault")
    func parsing() throws {
        let fault = try SimulatedFault(parsing: "throttle:path=/assignLicense,count=5,retryAfter=2,method=post")
        #expect(
            fault
                == SimulatedFault(
                    kind: .throttle,
                    method: "POST",
                    path: "/assignLicense",
                    count: 5,
                    retryAfterSeconds: 2
                )
        )
        #expect(throws: SimulatedFaultError.self) { try SimulatedFault(parsing: "explode") }
        #expect(throws: SimulatedFaultError.self) { try SimulatedFault(parsing: "serverError:status=418") }
        #expect(throws: SimulatedFaultError.self) { try SimulatedFault(parsing: "latency:delay=soon") }
        #expect(try SimulatedFault(parsing: "batchStatus:status=429,retryAfter=3").status == 429)
        #expect(throws: SimulatedFaultError.self) { try SimulatedFault(parsing: "batchStatus:status=400") }
        #expect(try SimulatedFault(parsing: "dropAfterProcessing:path=/$batch").kind == .dropAfterProcessing)
        #expect(try SimulatedFault(parsing: "repeatNextLink:after=2").after == 2)
    }

    @Test("the write quota: 429 with Graph's throttling headers once the writes are used up")
    func quota() async throws {
        var configuration = SimulatorConfiguration()
        configuration.writeQuota = SimulatedWriteQuota(writes: 5, window: .seconds(3600))
        try await Harness.run(tenant: Fixture.tenant(users: 8), configuration: configuration) { harness in
            let token = try await harness.token(clientId: "app-1")
            var replies: [Harness.Reply] = []
            for user in 0..<6 {
                replies.append(
                    try await harness.graph(
                        .PATCH,
                        "/users/user\(user)@contoso.com",
                        token: token,
                        json: #"{"city":"Oslo"}"#
                    )
                )
            }
            #expect(replies.map(\.status) == [204, 204, 204, 204, 204, 429])
            #expect(replies[3].header("x-ms-throttle-limit-percentage") == nil)
            #expect(replies[4].header("x-ms-throttle-limit-percentage") == "1.00")
            let throttled = replies[5]
            #expect(throttled.header("x-ms-throttle-information") == "WriteLimitExceeded")
            #expect(
                throttled.header("x-ms-throttle-scope") == "Tenant_Application/Write/app-1/\(SampleTenant.tenantId)"
            )
            #expect(Int(throttled.header("Retry-After") ?? "") ?? 0 > 3000)
            #expect(try await harness.graph(.GET, "/users", token: token).status == 200, "reads are not writes")
            let other = try await harness.token(clientId: "app-2")
            #expect(
                try await harness.graph(.PATCH, "/users/user7@contoso.com", token: other, json: #"{"city":"Oslo"}"#)
                    .status == 204
            )
            let batch = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: BatchTests.batch([BatchTests.item("1", user: 6, add: Fixture.powerBI)])
            )
            #expect(BatchTests.responses(batch)["1"]?["status"]?.intValue == 429)
            harness.simulator.setWriteQuota(nil)
            #expect(
                try await harness.graph(.PATCH, "/users/user6@contoso.com", token: token, json: #"{"city":"Oslo"}"#)
                    .status == 204
            )
        }
    }

    @Test("the quota window frees writes as time passes")
    func quotaWindow() {
        var window = WriteQuotaWindow(quota: SimulatedWriteQuota(writes: 2, window: .seconds(10)))
        let start = ContinuousClock.now
        #expect(window.admit(application: "a", now: start) == .allowed(usage: 0.5))
        #expect(window.admit(application: "a", now: start + .seconds(4)) == .allowed(usage: 1))
        #expect(window.admit(application: "a", now: start + .seconds(5)) == .throttled(retryAfterSeconds: 5))
        #expect(window.admit(application: "b", now: start + .seconds(5)) == .allowed(usage: 0.5))
        #expect(window.admit(application: "a", now: start + .seconds(10)) == .allowed(usage: 1))
        #expect(window.admit(application: "a", now: start + .seconds(11)) == .throttled(retryAfterSeconds: 3))
    }

    @Test("the control API over HTTP: faults, request log, tenant, quota, revocation")
    func controlAPI() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let added = try await harness.send(
                .POST,
                "/_simulator/faults",
                headers: [("Content-Type", "application/json")],
                body: Array(#"{"kind":"serverError","path":"/groups","status":502,"count":-1}"#.utf8)
            )
            #expect(added.status == 201)
            #expect(
                harness.simulator.faults() == [
                    SimulatedFault(kind: .serverError, path: "/groups", count: -1, status: 502)
                ]
            )
            let bad = try await harness.send(.POST, "/_simulator/faults", body: Array(#"{"kind":"meteor"}"#.utf8))
            #expect(bad.status == 400)
            #expect(bad["error"]?.stringValue?.contains("unknown fault kind 'meteor'") == true)

            let token = try await harness.token()
            #expect(
                try await harness.graph(.GET, "/groups", token: token, headers: [("client-request-id", "abc-123")])
                    .status == 502
            )
            #expect(try await harness.send(.DELETE, "/_simulator/faults").status == 204)
            #expect(try await harness.graph(.GET, "/groups", token: token).status == 200)

            let log = try await harness.send(.GET, "/_simulator/requests")
            let entries = log.json?.arrayValue ?? []
            #expect(entries.count == 3)
            #expect(entries[1]["clientRequestId"] == .string("abc-123"))
            #expect(entries[1]["status"]?.intValue == 502)
            #expect(entries[1]["path"] == .string("/v1.0/groups"))
            #expect(entries[0]["batchItems"] == .null)
            #expect(try await harness.send(.DELETE, "/_simulator/requests").status == 204)
            #expect(harness.simulator.requestLog().isEmpty)

            let tenant = try await harness.send(.GET, "/_simulator/tenant")
            let snapshot = try JSONDecoder().decode(Snapshot.self, from: Data(tenant.bytes))
            #expect(snapshot.users.count == 2)

            #expect(
                try await harness.send(.PUT, "/_simulator/quota", body: Array(#"{"writes":1,"windowSeconds":60}"#.utf8))
                    .status == 204
            )
            #expect(
                try await harness.graph(.PATCH, "/users/user0@contoso.com", token: token, json: #"{"city":"Rome"}"#)
                    .status == 204
            )
            #expect(
                try await harness.graph(.PATCH, "/users/user0@contoso.com", token: token, json: #"{"city":"Rome"}"#)
                    .status == 429
            )
            #expect(try await harness.send(.PUT, "/_simulator/quota", body: Array("null".utf8)).status == 204)
            #expect(
                try await harness.graph(.PATCH, "/users/user0@contoso.com", token: token, json: #"{"city":"Rome"}"#)
                    .status == 204
            )

            #expect(try await harness.send(.POST, "/_simulator/tokens/revoke").status == 204)
            let revoked = try await harness.graph(.GET, "/users", token: token)
            #expect(revoked.status == 401)
            #expect(revoked.errorCode == "InvalidAuthenticationToken")
            #expect(try await harness.send(.GET, "/_simulator/nothing").status == 404)
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
