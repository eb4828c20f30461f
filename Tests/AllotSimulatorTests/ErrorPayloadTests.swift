import AllotCore
import Testing

@testable import AllotSimulator

/// The error bodies a client must classify, checked member by member against Microsoft's
/// published examples (Graph's error envelope, the throttling guide's 429) and the community
/// evidence in graph-facts.md.
@Suite("Error payloads as Microsoft publishes them")
struct ErrorPayloadTests {
    static let clientRequestId = "4f6c1a2e-7d3b-4e8a-9c0f-1b2d3e4f5a6b"
    static let sent = [("client-request-id", clientRequestId)]

    /// `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id", ...}}}`
    /// and nothing else; `innerDetails` are the members a 429 adds to `innerError`.
    static func expectEnvelope(
        _ body: JSONValue?,
        code: String,
        message: String,
        requestId: String?,
        innerDetails: [String: String] = [:],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let envelope = try #require(body?.objectValue, sourceLocation: sourceLocation)
        #expect(Set(envelope.keys) == ["error"], sourceLocation: sourceLocation)
        let error = try #require(envelope["error"]?.objectValue, sourceLocation: sourceLocation)
        #expect(Set(error.keys) == ["code", "message", "innerError"], sourceLocation: sourceLocation)
        #expect(error["code"] == .string(code), sourceLocation: sourceLocation)
        #expect(error["message"] == .string(message), sourceLocation: sourceLocation)
        let inner = try #require(error["innerError"]?.objectValue, sourceLocation: sourceLocation)
        #expect(
            Set(inner.keys) == Set(["date", "request-id", "client-request-id"]).union(innerDetails.keys),
            sourceLocation: sourceLocation
        )
        let date = try #require(inner["date"]?.stringValue, sourceLocation: sourceLocation)
        #expect(
            try Regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$").wholeMatch(in: date) != nil,
            "\(date)",
            sourceLocation: sourceLocation
        )
        let id = try #require(inner["request-id"]?.stringValue, sourceLocation: sourceLocation)
        #expect(GUID(id) != nil && id == id.lowercased(), sourceLocation: sourceLocation)
        if let requestId { #expect(id == requestId, sourceLocation: sourceLocation) }
        #expect(inner["client-request-id"] == .string(clientRequestId), sourceLocation: sourceLocation)
        for (name, value) in innerDetails {
            #expect(inner[name] == .string(value), "\(name)", sourceLocation: sourceLocation)
        }
    }

    static func expectEnvelope(
        _ reply: Harness.Reply,
        status: Int,
        code: String,
        message: String,
        innerDetails: [String: String] = [:],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        #expect(reply.status == status, sourceLocation: sourceLocation)
        #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
        #expect(reply.header("client-request-id") == clientRequestId, sourceLocation: sourceLocation)
        try expectEnvelope(
            reply.json,
            code: code,
            message: message,
            requestId: reply.header("request-id"),
            innerDetails: innerDetails,
            sourceLocation: sourceLocation
        )
    }

    static func assign(_ harness: Harness, _ user: String, _ body: String, token: String) async throws -> Harness.Reply
    {
        try await harness.graph(
            .POST,
            "/users/\(user)@contoso.com/assignLicense",
            token: token,
            json: body,
            headers: sent
        )
    }

    @Test("400: removing a license the user does not hold")
    func noCorrespondingLicense() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let reply = try await Self.assign(
                harness,
                "user0",
                AssignLicenseTests.body(remove: [Fixture.e3]),
                token: try await harness.token()
            )
            try Self.expectEnvelope(
                reply,
                status: 400,
                code: "Request_BadRequest",
                message: "User does not have a corresponding license."
            )
        }
    }

    @Test("404: a deleted user")
    func deletedUser() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            #expect(try await harness.graph(.DELETE, "/users/user1@contoso.com", token: token).status == 204)
            let id = Fixture.userId(1).description
            let reply = try await harness.graph(
                .POST,
                "/users/\(id)/assignLicense",
                token: token,
                json: AssignLicenseTests.body(remove: [Fixture.e3]),
                headers: Self.sent
            )
            try Self.expectEnvelope(
                reply,
                status: 404,
                code: "Request_ResourceNotFound",
                message:
                    "Resource '\(id)' does not exist or one of its queried reference-property objects are not present."
            )
        }
    }

    @Test("403: a token without the permission the call needs")
    func forbidden() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let reply = try await Self.assign(
                harness,
                "user0",
                AssignLicenseTests.body(add: [(Fixture.visio, [])]),
                token: try await harness.token(roles: ["User.Read.All"])
            )
            try Self.expectEnvelope(
                reply,
                status: 403,
                code: "Authorization_RequestDenied",
                message: "Insufficient privileges to complete the operation."
            )
        }
    }

    @Test("400: a user without a usage location")
    func invalidUsageLocation() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let reply = try await Self.assign(
                harness,
                "user4",
                AssignLicenseTests.body(add: [(Fixture.visio, [])]),
                token: try await harness.token()
            )
            try Self.expectEnvelope(
                reply,
                status: 400,
                code: "Request_BadRequest",
                message: "License assignment cannot be done for user with invalid usage location."
            )
        }
    }

    @Test("400: a plan enabled without the plan it depends on")
    func dependentPlans() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let skype = AssignLicenseTests.plan("MCOSTANDARD")
            let reply = try await Self.assign(
                harness,
                "user0",
                AssignLicenseTests.body(add: [(Fixture.e5, [skype])]),
                token: try await harness.token()
            )
            try Self.expectEnvelope(
                reply,
                status: 400,
                code: "Request_BadRequest",
                message:
                    "License assignment failed because service plan \(AssignLicenseTests.plan("MCOMEETADV")) depends on the service plan(s) \(skype)."
            )
        }
    }

    @Test("400: mutually exclusive plans")
    func mutuallyExclusive() async throws {
        try await Harness.run(
            tenant: AssignLicenseTests.tenant(),
            configuration: AssignLicenseTests.exclusiveSharePoint
        ) { harness in
            let reply = try await Self.assign(
                harness,
                "user5",
                AssignLicenseTests.body(add: [(Fixture.e3, [])]),
                token: try await harness.token()
            )
            try Self.expectEnvelope(
                reply,
                status: 400,
                code: "Request_BadRequest",
                message: AssignLicenseTests.exclusiveSharePointMessage
            )
        }
    }

    static let throttled = ["code": "429", "message": "Please retry after", "status": "429"]

    @Test("429 on the top level: the throttling guide's body, Retry-After and the throttling headers")
    func throttledTopLevel() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            harness.simulator.addFault(SimulatedFault(kind: .throttle, path: "/assignLicense", retryAfterSeconds: 10))
            let reply = try await Self.assign(
                harness,
                "user0",
                AssignLicenseTests.body(add: [(Fixture.visio, [])]),
                token: try await harness.token()
            )
            try Self.expectEnvelope(
                reply,
                status: 429,
                code: "TooManyRequests",
                message: "Please retry again later.",
                innerDetails: Self.throttled
            )
            #expect(reply.header("Retry-After") == "10")
            #expect(reply.header("x-ms-throttle-information") == "ResourceUnitLimitExceeded")
        }
    }

    @Test("429 on the outer $batch and on an item: each body is the throttling guide's")
    func throttledBatch() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            harness.simulator.addFault(
                SimulatedFault(kind: .batchStatus, path: "/$batch", retryAfterSeconds: 7, status: 429)
            )
            harness.simulator.addFault(SimulatedFault(kind: .throttle, path: "/assignLicense", retryAfterSeconds: 7))
            let item =
                #"{"id":"1","method":"POST","url":"/users/user0@contoso.com/assignLicense","headers":{"Content-Type":"application/json","client-request-id":"\#(Self.clientRequestId)"},"body":\#(AssignLicenseTests.body(add: [(Fixture.visio, [])]))}"#
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: try await harness.token(),
                json: BatchTests.batch([item]),
                headers: Self.sent
            )
            #expect(reply.status == 429)
            #expect(reply.header("Retry-After") == "7")
            let response = try #require(BatchTests.responses(reply)["1"])
            #expect(response["status"]?.intValue == 429)
            #expect(response["headers"]?["Retry-After"] == .string("7"))
            try Self.expectEnvelope(
                response["body"],
                code: "TooManyRequests",
                message: "Please retry again later.",
                requestId: response["headers"]?["request-id"]?.stringValue,
                innerDetails: Self.throttled
            )
        }
    }
}
