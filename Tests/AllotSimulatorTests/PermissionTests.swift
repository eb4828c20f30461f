import AllotCore
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Permissions: app roles in tokens, 403 where Graph's permission tables refuse")
struct PermissionTests {
    /// The claims of an access token (a JWT, as Entra issues for Graph).
    static func claims(of token: String) throws -> [String: JSONValue] {
        let parts = token.split(separator: ".")
        try #require(parts.count == 3)
        let bytes = try #require(Base64URL.decode(parts[1]))
        return try #require(try JSONParser.parse(bytes).objectValue)
    }

    static func roles(of token: String) throws -> [String]? {
        try claims(of: token)["roles"]?.arrayValue?.compactMap(\.stringValue)
    }

    @Test("tokens are JWTs whose roles claim lists the app roles granted to the application or identity")
    func rolesClaim() async throws {
        var configuration = SimulatorConfiguration()
        configuration.applications = [
            SimulatedApplication(clientId: "app-reader", clientSecret: "s", roles: ["User.Read.All"]),
            SimulatedApplication(clientId: "app-allot", clientSecret: "s"),
            SimulatedApplication(clientId: "app-none", clientSecret: "s", roles: []),
        ]
        configuration.defaultRoles = ["GroupMember.Read.All"]
        try await Harness.run(configuration: configuration) { harness in
            let reader = try await harness.token(clientId: "app-reader", secret: "s")
            let claims = try Self.claims(of: reader)
            #expect(try Self.roles(of: reader) == ["User.Read.All"])
            #expect(claims["appid"] == .string("app-reader"))
            #expect(claims["tid"] == .string(SampleTenant.tenantId))
            #expect(claims["aud"] == .string("https://graph.microsoft.com"))
            #expect(claims["idtyp"] == .string("app"))
            #expect(claims["exp"]?.intValue.map { $0 > Int(Date().timeIntervalSince1970) } == true)

            #expect(
                try Self.roles(of: try await harness.token(clientId: "app-allot", secret: "s"))
                    == SimulatedApplication.allotRoles.sorted()
            )

            let none = try await harness.token(clientId: "app-none", secret: "s")
            #expect(try Self.claims(of: none)["roles"] == nil, "Entra leaves the claim out when no role is granted")
            let refused = try await harness.graph(.GET, "/users", token: none)
            #expect(refused.status == 403)

            let imds = try await harness.send(
                .GET,
                "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/",
                headers: [("Metadata", "true")]
            )
            let identityToken = try #require(imds["access_token"]?.stringValue)
            #expect(
                try Self.roles(of: identityToken) == ["GroupMember.Read.All"],
                "managed identities carry the default roles"
            )
        }
    }

    static let group = Fixture.groupId(1)
    static let addMemberBody =
        #"{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/\#(Fixture.userId(2))"}"#

    /// A call, a role Microsoft's table accepts for it (the least privileged one), and a role it does not accept.
    static let calls:
        [(name: String, method: Harness.Method, path: String, body: String?, accepted: String, refused: String)] = [
            ("list users", .GET, "/users", nil, "User.Read.All", "GroupMember.Read.All"),
            ("get a user", .GET, "/users/user0@contoso.com", nil, "User.Read.All", "LicenseAssignment.ReadWrite.All"),
            ("count users", .GET, "/users/$count", nil, "User.Read.All", "Organization.Read.All"),
            ("users delta", .GET, "/users/delta", nil, "User.Read.All", "User.ReadBasic.All"),
            ("groups delta", .GET, "/groups/delta", nil, "GroupMember.Read.All", "User.Read.All"),
            (
                "create a user", .POST, "/users",
                #"{"accountEnabled":true,"displayName":"New","mailNickname":"new","userPrincipalName":"new@contoso.com","passwordProfile":{"password":"x"}}"#,
                "User.ReadWrite.All", "User.Read.All"
            ),
            (
                "update a user", .PATCH, "/users/user0@contoso.com", #"{"usageLocation":"GB"}"#, "User.ReadWrite.All",
                "User.Read.All"
            ),
            (
                "delete a user", .DELETE, "/users/user2@contoso.com", nil, "User.ReadWrite.All",
                "Directory.ReadWrite.All"
            ),
            (
                "assign a license", .POST, "/users/user0@contoso.com/assignLicense",
                AssignLicenseTests.body(add: [(Fixture.visio, [])]),
                "LicenseAssignment.ReadWrite.All", "User.Read.All"
            ),
            (
                "list subscribed SKUs", .GET, "/subscribedSkus", nil, "LicenseAssignment.Read.All",
                "LicenseAssignment.ReadWrite.All"
            ),
            ("list groups", .GET, "/groups", nil, "GroupMember.Read.All", "User.Read.All"),
            ("get a group", .GET, "/groups/\(group)", nil, "GroupMember.Read.All", "GroupMember.ReadBasic.All"),
            (
                "transitive members", .GET, "/groups/\(group)/transitiveMembers/microsoft.graph.user", nil,
                "GroupMember.ReadBasic.All", "User.Read.All"
            ),
            (
                "direct members", .GET, "/groups/\(group)/members", nil, "GroupMember.Read.All",
                "GroupMember.ReadBasic.All"
            ),
            (
                "add a member", .POST, "/groups/\(group)/members/$ref", addMemberBody, "GroupMember.ReadWrite.All",
                "GroupMember.Read.All"
            ),
            (
                "remove a member", .DELETE, "/groups/\(group)/members/\(Fixture.userId(0))/$ref", nil,
                "GroupMember.ReadWrite.All", "GroupMember.Read.All"
            ),
        ]

    @Test("each call needs a permission its table accepts; otherwise 403 Authorization_RequestDenied", arguments: calls)
    func table(
        _ call: (name: String, method: Harness.Method, path: String, body: String?, accepted: String, refused: String)
    ) async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3, groupOf: 2)) { harness in
            let advanced = [("ConsistencyLevel", "eventual")]
            let refused = try await harness.graph(
                call.method,
                call.path,
                token: try await harness.token(roles: [call.refused]),
                json: call.body,
                headers: advanced
            )
            #expect(refused.status == 403, "\(call.name) with \(call.refused)")
            #expect(refused.errorCode == "Authorization_RequestDenied", "\(call.name)")
            #expect(refused.errorMessage == "Insufficient privileges to complete the operation.", "\(call.name)")
            let allowed = try await harness.graph(
                call.method,
                call.path,
                token: try await harness.token(roles: [call.accepted]),
                json: call.body,
                headers: advanced
            )
            #expect(
                (200..<300).contains(allowed.status),
                "\(call.name) with \(call.accepted): \(allowed.status) \(allowed.errorMessage ?? "")"
            )
        }
    }

    @Test("higher privileged permissions are accepted too, exactly as the tables list them")
    func higherPrivileged() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3, groupOf: 2)) { harness in
            let directoryReader = try await harness.token(roles: ["Directory.Read.All"])
            #expect(try await harness.graph(.GET, "/users", token: directoryReader).status == 200)
            #expect(try await harness.graph(.GET, "/subscribedSkus", token: directoryReader).status == 200)
            #expect(
                try await harness.graph(.GET, "/groups/\(Self.group)/transitiveMembers", token: directoryReader).status
                    == 200
            )
            let organization = try await harness.token(roles: ["Organization.Read.All"])
            #expect(try await harness.graph(.GET, "/subscribedSkus", token: organization).status == 200)
            let userWriter = try await harness.token(roles: ["User.ReadWrite.All"])
            let assigned = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: userWriter,
                json: AssignLicenseTests.body(add: [(Fixture.visio, [])])
            )
            #expect(assigned.status == 200)
        }
    }

    @Test("inside a $batch each item is checked on its own: the refused item gets the 403")
    func batchItem() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let reader = try await harness.token(roles: ["User.Read.All"])
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: reader,
                json: BatchTests.batch([
                    BatchTests.item("1", user: 0, add: Fixture.visio),
                    #"{"id":"2","method":"GET","url":"/users/user1@contoso.com"}"#,
                ])
            )
            #expect(reply.status == 200)
            let byId = BatchTests.responses(reply)
            #expect(byId["1"]?["status"]?.intValue == 403)
            #expect(byId["1"]?["body"]?["error"]?["code"] == .string("Authorization_RequestDenied"))
            #expect(byId["2"]?["status"]?.intValue == 200)
            #expect(harness.simulator.currentTenant().users[0].assignedLicenses.isEmpty)
        }
    }

    @Test("the control API grants roles to a client; tokens issued afterwards carry them")
    func controlAPI() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let before = try await harness.token(clientId: "app-x")
            let granted = try await harness.send(
                .PUT,
                "/_simulator/roles",
                headers: [("Content-Type", "application/json")],
                body: Array(#"{"clientId":"APP-X","roles":["User.Read.All"]}"#.utf8)
            )
            #expect(granted.status == 204)
            #expect(
                try await harness.graph(.GET, "/subscribedSkus", token: before).status == 200,
                "a token keeps the roles it was issued with"
            )
            let after = try await harness.token(clientId: "app-x")
            #expect(try Self.roles(of: after) == ["User.Read.All"])
            #expect(try await harness.graph(.GET, "/subscribedSkus", token: after).status == 403)
            #expect(try await harness.graph(.GET, "/users", token: after).status == 200)
            let bad = try await harness.send(.PUT, "/_simulator/roles", body: Array(#"{"roles":"User.Read.All"}"#.utf8))
            #expect(bad.status == 400)
        }
    }
}
