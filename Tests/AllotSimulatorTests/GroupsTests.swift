import AllotCore
import AllotTools
import Testing

@testable import AllotSimulator

@Suite("Groups: by name and id, transitive and direct members")
struct GroupsTests {
    /// Engineering (users 0, 1) contains Platform (users 2, 3), which contains Data (user 4).
    static func tenant() -> Snapshot {
        var tenant = Fixture.tenant(users: 6)
        tenant.groups = [
            DirectoryGroup(
                id: Fixture.groupId(1),
                displayName: "Engineering",
                members: (0...4).map(Fixture.userId),
                memberGroups: [Fixture.groupId(2)]
            ),
            DirectoryGroup(
                id: Fixture.groupId(2),
                displayName: "Platform Engineering",
                members: (2...4).map(Fixture.userId),
                memberGroups: [Fixture.groupId(3)]
            ),
            DirectoryGroup(id: Fixture.groupId(3), displayName: "Data", members: [Fixture.userId(4)], memberGroups: []),
            DirectoryGroup(
                id: Fixture.groupId(4),
                displayName: "O'Brien's team",
                members: [Fixture.userId(5)],
                memberGroups: []
            ),
        ]
        return tenant
    }

    @Test("by display name, case-insensitive, with quotes doubled")
    func byName() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .GET,
                "/groups?$filter=displayName%20eq%20'engineering'&$select=id,displayName",
                token: token
            )
            #expect(reply.values.map { $0["id"] } == [.string(Fixture.groupId(1).description)])
            #expect(reply.values.first?.objectValue?.keys.sorted() == ["displayName", "id"])
            let quoted = try await harness.graph(
                .GET,
                "/groups?$filter=displayName%20eq%20'O''Brien''s%20team'",
                token: token
            )
            #expect(quoted.values.map { $0["id"] } == [.string(Fixture.groupId(4).description)])
            let none = try await harness.graph(.GET, "/groups?$filter=displayName%20eq%20'Nope'", token: token)
            #expect(none.status == 200)
            #expect(none.values.isEmpty)
            let all = try await harness.graph(.GET, "/groups", token: token)
            #expect(all.values.count == 4)
            #expect(all.values.first?["securityEnabled"] == .bool(true))
        }
    }

    @Test("by id; a name where an id belongs is a 400, an unknown id a 404")
    func byId() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let found = try await harness.graph(.GET, "/groups/\(Fixture.groupId(2))", token: token)
            #expect(found["displayName"] == .string("Platform Engineering"))
            let name = try await harness.graph(.GET, "/groups/Engineering", token: token)
            #expect(name.status == 400)
            #expect(name.errorMessage == "Invalid object identifier 'Engineering'.")
            let unknown = try await harness.graph(
                .GET,
                "/groups/\(Fixture.groupId(99))/transitiveMembers",
                token: token
            )
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "Request_ResourceNotFound")
        }
    }

    @Test("transitiveMembers flattens nested groups at every depth; the user cast drops the groups")
    func transitive() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let all = try await harness.graph(
                .GET,
                "/groups/\(Fixture.groupId(1))/transitiveMembers?$select=id",
                token: token
            )
            let types = all.values.compactMap { $0["@odata.type"]?.stringValue }
            #expect(types.filter { $0 == "#microsoft.graph.user" }.count == 5)
            #expect(types.filter { $0 == "#microsoft.graph.group" }.count == 2)
            for cast in ["microsoft.graph.user", "graph.user"] {
                let users = try await harness.graph(
                    .GET,
                    "/groups/\(Fixture.groupId(1))/transitiveMembers/\(cast)?$select=id,userPrincipalName&$count=true",
                    token: token,
                    headers: [("ConsistencyLevel", "eventual")]
                )
                #expect(users.status == 200)
                #expect(users["@odata.count"]?.intValue == 5)
                #expect(
                    Set(users.values.compactMap { $0["userPrincipalName"]?.stringValue })
                        == Set((0...4).map { "user\($0)@contoso.com" })
                )
            }
        }
    }

    @Test("members lists direct members only")
    func direct() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(.GET, "/groups/\(Fixture.groupId(1))/members?$select=id", token: token)
            let ids = Set(reply.values.compactMap { $0["id"]?.stringValue })
            #expect(
                ids == [Fixture.userId(0).description, Fixture.userId(1).description, Fixture.groupId(2).description]
            )
        }
    }

    @Test("member listings page with $top and a next link")
    func paging() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 25, groupOf: 25)) { harness in
            let token = try await harness.token()
            let pages = try await harness.pages(
                "/groups/\(Fixture.groupId(1))/transitiveMembers/microsoft.graph.user?$top=10&$select=id",
                token: token
            )
            #expect(pages.map(\.values.count) == [10, 10, 5])
            #expect(Set(pages.flatMap { $0.values.compactMap { $0["id"]?.stringValue } }).count == 25)
        }
    }

    @Test("subscribedSkus reports seats as they stand and honours $select")
    func subscribedSkus() async throws {
        try await Harness.run(tenant: AssignLicenseTests.tenant()) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(.GET, "/subscribedSkus", token: token)
            #expect(reply.values.count == SampleTenant.managedSkus.count)
            let e3 = try #require(reply.values.first { $0["skuPartNumber"] == .string("SPE_E3") })
            #expect(e3["consumedUnits"]?.intValue == 3)
            #expect(e3["prepaidUnits"]?["enabled"]?.intValue == 10)
            #expect(e3["servicePlans"]?.arrayValue?.count == SampleTenant.sku("SPE_E3").servicePlans.count)
            #expect(e3["id"] == .string("\(SampleTenant.tenantId)_\(Fixture.e3)"))
            let selected = try await harness.graph(.GET, "/subscribedSkus?$select=skuId,consumedUnits", token: token)
            #expect(selected.values.first?.objectValue?.keys.sorted() == ["consumedUnits", "skuId"])
            let filtered = try await harness.graph(
                .GET,
                "/subscribedSkus?$filter=skuPartNumber%20eq%20'SPE_E3'",
                token: token
            )
            #expect(filtered.status == 400)
        }
    }
}
