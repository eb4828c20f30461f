import AllotCore
import Testing

@testable import AllotSimulator

@Suite("Membership writes, user deletion, hidden membership")
struct MembershipTests {
    static let engineering = GroupsTests.tenant().groups[0].id
    static let platform = GroupsTests.tenant().groups[1].id
    static let data = GroupsTests.tenant().groups[2].id

    static func reference(_ id: GUID) -> String {
        #"{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/\#(id)"}"#
    }

    /// The user ids a member listing returns.
    static func userIds(
        _ harness: Harness,
        _ path: String,
        token: String,
        headers: [(String, String)] = []
    ) async throws -> Set<String> {
        let reply = try await harness.graph(.GET, path, token: token, headers: headers)
        #expect(reply.status == 200, "\(path): \(reply.errorMessage ?? "")")
        return Set(
            reply.values.filter { $0["@odata.type"] == nil || $0["@odata.type"] == .string("#microsoft.graph.user") }
                .compactMap { $0["id"]?.stringValue }
        )
    }

    static func ids(_ users: Int...) -> Set<String> { Set(users.map { Fixture.userId($0).description }) }

    static var admin: Set<String> { SimulatedApplication.allotRoles.union(["GroupMember.ReadWrite.All"]) }

    @Test("adding a member: 204, in the group and every group above it; again: Graph's 400; unknown: 404")
    func addMember() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token(roles: Self.admin)
            let added = try await harness.graph(
                .POST,
                "/groups/\(Self.data)/members/$ref",
                token: token,
                json: Self.reference(Fixture.userId(5))
            )
            #expect(added.status == 204)
            #expect(added.bytes.isEmpty)
            #expect(try await Self.userIds(harness, "/groups/\(Self.data)/members", token: token) == Self.ids(4, 5))
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/transitiveMembers", token: token)
                    == Self.ids(0, 1, 2, 3, 4, 5)
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/members", token: token) == Self.ids(0, 1)
            )

            let again = try await harness.graph(
                .POST,
                "/groups/\(Self.data)/members/$ref",
                token: token,
                json: Self.reference(Fixture.userId(5))
            )
            #expect(again.status == 400)
            #expect(again.errorCode == "Request_BadRequest")
            #expect(
                again.errorMessage
                    == "One or more added object references already exist for the following modified properties: 'members'."
            )

            let unknown = try await harness.graph(
                .POST,
                "/groups/\(Self.data)/members/$ref",
                token: token,
                json: Self.reference(Fixture.userId(77))
            )
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "Request_ResourceNotFound")
            #expect(
                unknown.errorMessage
                    == "Resource '\(Fixture.userId(77))' does not exist or one of its queried reference-property objects are not present."
            )

            let malformed = try await harness.graph(
                .POST,
                "/groups/\(Self.data)/members/$ref",
                token: token,
                json: #"{"id":"x"}"#
            )
            #expect(malformed.status == 400)
            #expect(harness.simulator.currentTenant().groups[2].members == [Fixture.userId(4), Fixture.userId(5)])
        }
    }

    @Test(
        "a transitive member may be added directly; removing the direct membership keeps them through the nested group"
    )
    func directAndNested() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token(roles: Self.admin)
            // user4 is in Engineering through Platform and Data only.
            #expect(
                try await harness.graph(
                    .POST,
                    "/groups/\(Self.engineering)/members/$ref",
                    token: token,
                    json: Self.reference(Fixture.userId(4))
                ).status == 204
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/members", token: token)
                    == Self.ids(0, 1, 4)
            )
            let removed = try await harness.graph(
                .DELETE,
                "/groups/\(Self.engineering)/members/\(Fixture.userId(4))/$ref",
                token: token
            )
            #expect(removed.status == 204)
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/members", token: token) == Self.ids(0, 1)
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/transitiveMembers", token: token)
                    == Self.ids(0, 1, 2, 3, 4)
            )

            let notDirect = try await harness.graph(
                .DELETE,
                "/groups/\(Self.engineering)/members/\(Fixture.userId(4))/$ref",
                token: token
            )
            #expect(notDirect.status == 404)
            #expect(notDirect.errorCode == "Request_ResourceNotFound")

            #expect(
                try await harness.graph(.DELETE, "/groups/\(Self.data)/members/\(Fixture.userId(4))/$ref", token: token)
                    .status == 204
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/transitiveMembers", token: token)
                    == Self.ids(0, 1, 2, 3)
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.platform)/transitiveMembers", token: token)
                    == Self.ids(2, 3)
            )
        }
    }

    @Test(
        "deleting a user: 204, seats freed, gone from groups; later calls answer Graph's 404; delta reports the removal"
    )
    func deleteUser() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let token = try await harness.token(roles: Self.admin)
            let delta = try await harness.pages("/users/delta?$select=id", token: token)
            let deltaLink = try #require(delta.last?["@odata.deltaLink"]?.stringValue)
            #expect(AssignLicenseTests.consumed(harness, Fixture.e3) == 3)

            let deleted = try await harness.graph(.DELETE, "/users/user1@contoso.com", token: token)
            #expect(deleted.status == 204)
            #expect(AssignLicenseTests.consumed(harness, Fixture.e3) == 2)
            let id = Fixture.userId(1).description
            for path in ["/users/\(id)", "/users/user1@contoso.com"] {
                let gone = try await harness.graph(.GET, path, token: token)
                #expect(gone.status == 404)
                #expect(gone.errorCode == "Request_ResourceNotFound")
            }
            let assign = try await harness.graph(
                .POST,
                "/users/\(id)/assignLicense",
                token: token,
                json: AssignLicenseTests.body(add: [(Fixture.visio, [])])
            )
            #expect(
                assign.errorMessage
                    == "Resource '\(id)' does not exist or one of its queried reference-property objects are not present."
            )
            #expect(try await harness.graph(.DELETE, "/users/\(id)", token: token).status == 404)

            let remaining = harness.simulator.currentTenant()
            #expect(remaining.users.count == 5)
            #expect(!remaining.users.contains { $0.id == Fixture.userId(1) })
            let listed = try await harness.pages("/users?$select=id", token: token).flatMap(\.values)
            #expect(listed.count == 5)

            let changes = try await harness.graph(.GET, deltaLink, token: token)
            #expect(
                changes.values == [.object(["id": .string(id), "@removed": .object(["reason": .string("changed")])])]
            )
        }
    }

    @Test("a deleted user leaves their groups, and the other members keep their places")
    func deleteUserLeavesGroups() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token(roles: Self.admin)
            #expect(try await harness.graph(.DELETE, "/users/user2@contoso.com", token: token).status == 204)
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/transitiveMembers", token: token)
                    == Self.ids(0, 1, 3, 4)
            )
            #expect(try await Self.userIds(harness, "/groups/\(Self.data)/members", token: token) == Self.ids(4))
            let oBrien = harness.simulator.currentTenant().groups[3]
            #expect(oBrien.members == [Fixture.userId(5)])
        }
    }

    /// Engineering as a hidden-membership group.
    static func hiddenTenant() -> Snapshot {
        var tenant = GroupsTests.tenant()
        tenant.groups[0].visibility = "HiddenMembership"
        tenant.groups[1].visibility = "Private"
        return tenant
    }

    @Test("visibility is returned by default and on $select")
    func visibility() async throws {
        try await Harness.run(tenant: Self.hiddenTenant()) { harness in
            let token = try await harness.token()
            let all = try await harness.graph(.GET, "/groups", token: token)
            #expect(
                all.values.map { $0["visibility"] } == [.string("HiddenMembership"), .string("Private"), .null, .null]
            )
            let one = try await harness.graph(.GET, "/groups/\(Self.engineering)?$select=id,visibility", token: token)
            #expect(one["visibility"] == .string("HiddenMembership"))
            #expect(harness.simulator.currentTenant().groups[0].visibility == "HiddenMembership")
        }
    }

    @Test("a HiddenMembership group lists no members (200, empty) without Member.Read.Hidden, every member with it")
    func hiddenMembership() async throws {
        try await Harness.run(tenant: Self.hiddenTenant()) { harness in
            let allot = try await harness.token()
            let advanced = [("ConsistencyLevel", "eventual")]
            for path in ["transitiveMembers", "members", "transitiveMembers/microsoft.graph.user?$count=true"] {
                let reply = try await harness.graph(
                    .GET,
                    "/groups/\(Self.engineering)/\(path)",
                    token: allot,
                    headers: advanced
                )
                #expect(reply.status == 200)
                #expect(reply.values.isEmpty, "\(path)")
            }
            let count = try await harness.graph(
                .GET,
                "/groups/\(Self.engineering)/transitiveMembers/microsoft.graph.user/$count",
                token: allot,
                headers: advanced
            )
            #expect(String(decoding: count.bytes, as: UTF8.self) == "0")
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.platform)/transitiveMembers", token: allot)
                    == Self.ids(2, 3, 4),
                "Private hides nothing"
            )

            let hiddenReader = try await harness.token(
                roles: SimulatedApplication.allotRoles.union([GraphPermissions.readHiddenMembers])
            )
            #expect(
                try await Self.userIds(harness, "/groups/\(Self.engineering)/transitiveMembers", token: hiddenReader)
                    == Self.ids(0, 1, 2, 3, 4)
            )
        }
    }
}
