import AllotCore
import Testing

@testable import AllotSimulator

@Suite("Groups delta: members@delta, nested groups, large groups over pages, filters")
struct GroupsDeltaTests {
    static let engineering = MembershipTests.engineering
    static let platform = MembershipTests.platform
    static let data = MembershipTests.data

    static func entry(_ user: Int, removed: Bool = false) -> JSONValue {
        var members: [String: JSONValue] = [
            "@odata.type": .string("#microsoft.graph.user"), "id": .string(Fixture.userId(user).description),
        ]
        if removed { members["@removed"] = .object(["reason": .string("deleted")]) }
        return .object(members)
    }

    static func groupEntry(_ id: GUID) -> JSONValue {
        .object(["@odata.type": .string("#microsoft.graph.group"), "id": .string(id.description)])
    }

    /// `members@delta` of each group in a round, merged over pages as Graph asks clients to.
    static func membersByGroup(_ values: [JSONValue]) -> [String: [JSONValue]] {
        var merged: [String: [JSONValue]] = [:]
        for group in values {
            guard let id = group["id"]?.stringValue else { continue }
            merged[id, default: []] += group["members@delta"]?.arrayValue ?? []
        }
        return merged
    }

    @Test("a first round lists every group with its direct members, nested groups as members of type group")
    func firstRound() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token()
            let round = try await UsersDeltaTests.round(
                harness,
                "/groups/delta?$select=displayName,members",
                token: token
            )
            #expect(round.values.count == 4)
            #expect(round.values[0]["displayName"] == .string("Engineering"))
            let members = Self.membersByGroup(round.values)
            #expect(
                Set(members[Self.engineering.description] ?? []) == [
                    Self.entry(0), Self.entry(1), Self.groupEntry(Self.platform),
                ]
            )
            #expect(
                Set(members[Self.platform.description] ?? []) == [
                    Self.entry(2), Self.entry(3), Self.groupEntry(Self.data),
                ]
            )
            #expect(members[Self.data.description] == [Self.entry(4)])

            let noMembers = try await UsersDeltaTests.round(
                harness,
                "/groups/delta?$select=displayName,visibility",
                token: token
            )
            #expect(noMembers.values.allSatisfy { $0["members@delta"] == nil })
            #expect(noMembers.values[0].objectValue?.keys.sorted() == ["displayName", "id", "visibility"])
        }
    }

    @Test("member writes, control-API changes and user deletion show in the next round as added and @removed")
    func changes() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let first = try await UsersDeltaTests.round(
                harness,
                "/groups/delta?$select=displayName,members",
                token: token
            )
            #expect(
                try await harness.graph(
                    .POST,
                    "/groups/\(Self.data)/members/$ref",
                    token: token,
                    json: MembershipTests.reference(Fixture.userId(5))
                ).status
                    == 204
            )
            #expect(
                try await harness.graph(
                    .DELETE,
                    "/groups/\(Self.engineering)/members/\(Fixture.userId(0))/$ref",
                    token: token
                ).status == 204
            )
            try harness.simulator.addMember(Fixture.userId(5), toGroup: Self.engineering)
            harness.simulator.deleteUser(Fixture.userId(2))
            let second = try await UsersDeltaTests.round(harness, first.deltaLink, token: token)
            let members = Self.membersByGroup(second.values)
            #expect(
                Set(members.keys) == [Self.engineering.description, Self.platform.description, Self.data.description]
            )
            #expect(members[Self.engineering.description] == [Self.entry(0, removed: true), Self.entry(5)])
            #expect(members[Self.platform.description] == [Self.entry(2, removed: true)])
            #expect(members[Self.data.description] == [Self.entry(5)])
            #expect(second.values.first?["displayName"] == .string("Engineering"), "the selected properties come along")

            let third = try await UsersDeltaTests.round(harness, second.deltaLink, token: token)
            #expect(third.values.isEmpty)
            #expect(
                throws: DirectoryChangeError(
                    "One or more added object references already exist for the following modified properties: 'members'."
                )
            ) {
                try harness.simulator.addMember(Fixture.userId(5), toGroup: Self.data)
            }
        }
    }

    @Test("a joiner made the way an admin would (POST /users, then members/$ref) shows in users delta and groups delta")
    func joiner() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let users = try await UsersDeltaTests.round(harness, "/users/delta?$select=department", token: token)
            let groups = try await UsersDeltaTests.round(harness, "/groups/delta?$select=members", token: token)
            let created = try await harness.graph(
                .POST,
                "/users",
                token: token,
                json:
                    #"{"accountEnabled":true,"displayName":"Nova","mailNickname":"nova","userPrincipalName":"nova@contoso.com","department":"Engineering","usageLocation":"GB","passwordProfile":{"password":"Secret-123"}}"#
            )
            let createdId = try #require(created["id"]?.stringValue)
            let id = try #require(GUID(createdId))
            #expect(
                try await harness.graph(
                    .POST,
                    "/groups/\(Self.platform)/members/$ref",
                    token: token,
                    json: MembershipTests.reference(id)
                ).status == 204
            )
            let userChanges = try await UsersDeltaTests.round(harness, users.deltaLink, token: token)
            #expect(
                userChanges.values == [.object(["id": .string(id.description), "department": .string("Engineering")])]
            )
            let groupChanges = try await UsersDeltaTests.round(harness, groups.deltaLink, token: token)
            #expect(
                Self.membersByGroup(groupChanges.values) == [
                    Self.platform.description: [
                        .object(["@odata.type": .string("#microsoft.graph.user"), "id": .string(id.description)])
                    ]
                ]
            )
            let transitive = try await MembershipTests.userIds(
                harness,
                "/groups/\(Self.engineering)/transitiveMembers",
                token: token
            )
            #expect(transitive.contains(id.description), "a full read finds the joiner in the nesting group")
        }
    }

    @Test("a large group's members go over several pages, the group repeated on each")
    func largeGroup() async throws {
        let tenant = Fixture.tenant(users: 250, groupOf: 250)
        try await Harness.run(tenant: tenant) { harness in
            let token = try await harness.token()
            let prefer = [("Prefer", "odata.maxpagesize=100")]
            let pages = try await harness.pages(
                "/groups/delta?$select=displayName,members",
                token: token,
                headers: prefer
            )
            #expect(pages.count == 3)
            #expect(
                pages.allSatisfy {
                    $0.values.count == 1 && $0.values[0]["id"] == .string(Fixture.groupId(1).description)
                }
            )
            #expect(pages.map { $0.values[0]["members@delta"]?.arrayValue?.count ?? 0 } == [99, 99, 52])
            let members = Self.membersByGroup(pages.flatMap(\.values))[Fixture.groupId(1).description] ?? []
            #expect(Set(members).count == 250)
            #expect(pages.last?["@odata.deltaLink"] != nil)
            #expect(pages.dropLast().allSatisfy { $0["@odata.nextLink"] != nil && $0["@odata.deltaLink"] == nil })
        }
    }

    @Test("$filter by group id; more than 50 ids is Graph's 400; $expand is refused")
    func filter() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token()
            let filtered = try await UsersDeltaTests.round(
                harness,
                "/groups/delta?$select=members&$filter=id%20eq%20'\(Self.data)'%20or%20id%20eq%20'\(Fixture.groupId(4))'",
                token: token
            )
            #expect(
                filtered.values.compactMap { $0["id"]?.stringValue } == [
                    Self.data.description, Fixture.groupId(4).description,
                ]
            )
            let tooMany = (0..<51).map { "id%20eq%20'\(Fixture.groupId($0))'" }.joined(separator: "%20or%20")
            #expect(try await harness.graph(.GET, "/groups/delta?$filter=\(tooMany)", token: token).status == 400)
            #expect(
                try await harness.graph(.GET, "/groups/delta?$expand=members", token: token).errorCode
                    == "Request_UnsupportedQuery"
            )
        }
    }

    @Test("a hidden-membership group's members stay hidden without Member.Read.Hidden")
    func hiddenMembership() async throws {
        try await Harness.run(tenant: MembershipTests.hiddenTenant()) { harness in
            let token = try await harness.token()
            let round = try await UsersDeltaTests.round(harness, "/groups/delta", token: token)
            let members = Self.membersByGroup(round.values)
            #expect(members[Self.engineering.description]?.isEmpty == true, "listed, without members@delta")
            #expect(members[Self.platform.description]?.isEmpty == false)
        }
    }
}

@Suite("Delta tokens: lifetime, expiry on demand, failing pages")
struct DeltaTokenTests {
    static func configuration(
        clock: ManualSimulatorClock,
        lifetime: Duration = .seconds(7 * 86_400)
    ) -> SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        configuration.clock = clock
        configuration.deltaTokenLifetime = lifetime
        return configuration
    }

    @Test(
        "a token older than the lifetime answers 410 Gone, syncStateNotFound, and a Location that starts again",
        arguments: ["users", "groups"]
    )
    func lifetime(resource: String) async throws {
        let clock = ManualSimulatorClock()
        try await Harness.run(tenant: GroupsTests.tenant(), configuration: Self.configuration(clock: clock)) {
            harness in
            let token = try await harness.token()
            let first = try await UsersDeltaTests.round(harness, "/\(resource)/delta?$select=id", token: token)
            clock.advance(by: .seconds(7 * 86_400 - 1))
            let fresh = try await harness.graph(.GET, first.deltaLink, token: token)
            #expect(fresh.status == 200)
            clock.advance(by: .seconds(1))
            let gone = try await harness.graph(.GET, first.deltaLink, token: token)
            #expect(gone.status == 410)
            #expect(gone.errorCode == "syncStateNotFound")
            let location = try #require(gone.header("Location"))
            #expect(location == "\(harness.endpoints.graphEndpoint)/\(resource)/delta?$select=id&$deltatoken=")
            let restart = try await UsersDeltaTests.round(harness, location, token: token)
            #expect(!restart.values.isEmpty, "the Location starts a full round")
            #expect(
                try await harness.graph(.GET, try #require(fresh["@odata.deltaLink"]?.stringValue), token: token).status
                    == 200,
                "a newer token lives on"
            )
        }
    }

    @Test("expiring every token (method and control API) refuses deltaLinks and nextLinks alike; new rounds work")
    func expireNow() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let token = try await harness.token()
            let deltaLink = try await UsersDeltaTests.round(harness, "/users/delta", token: token).deltaLink
            let page = try await harness.graph(
                .GET,
                "/users/delta",
                token: token,
                headers: [("Prefer", "odata.maxpagesize=1")]
            )
            let nextLink = try #require(page["@odata.nextLink"]?.stringValue)
            harness.simulator.expireDeltaTokens()
            #expect(try await harness.graph(.GET, deltaLink, token: token).status == 410)
            #expect(try await harness.graph(.GET, nextLink, token: token).status == 410)
            let renewed = try await UsersDeltaTests.round(harness, "/users/delta", token: token).deltaLink
            #expect(try await harness.send(.POST, "/_simulator/delta/expire").status == 204)
            #expect(try await harness.graph(.GET, renewed, token: token).status == 410)
        }
    }

    @Test("a failPage fault fails one delta page with 503; the same link then answers")
    func failingPage() async throws {
        try await Harness.run(tenant: GroupsTests.tenant()) { harness in
            let token = try await harness.token()
            let first = try await UsersDeltaTests.round(harness, "/groups/delta", token: token)
            harness.simulator.addFault(SimulatedFault(kind: .failPage, path: "/groups/delta"))
            let failed = try await harness.graph(.GET, first.deltaLink, token: token)
            #expect(failed.status == 503)
            #expect(try await harness.graph(.GET, first.deltaLink, token: token).status == 200)
        }
    }
}
