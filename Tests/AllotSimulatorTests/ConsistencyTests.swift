import AllotCore
import Testing

@testable import AllotSimulator

@Suite("Read-after-write lag: PATCHed properties and the advanced-query membership index")
struct ConsistencyTests {
    static func configuration(lag: Duration, clock: ManualSimulatorClock) -> SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        configuration.consistencyLag = lag
        configuration.clock = clock
        return configuration
    }

    @Test("a PATCHed usage location is seen neither by reads nor by assignLicense until the lag has passed")
    func usageLocation() async throws {
        var tenant = Fixture.tenant(users: 1)
        tenant.users[0] = Fixture.user(0, usageLocation: nil)
        let clock = ManualSimulatorClock()
        try await Harness.run(tenant: tenant, configuration: Self.configuration(lag: .seconds(30), clock: clock)) {
            harness in
            let token = try await harness.token()
            let patched = try await harness.graph(
                .PATCH,
                "/users/user0@contoso.com",
                token: token,
                json: #"{"usageLocation":"NL"}"#
            )
            #expect(patched.status == 204)
            let add = AssignLicenseTests.body(add: [(Fixture.visio, [])])

            let early = try await harness.graph(.GET, "/users/user0@contoso.com?$select=usageLocation", token: token)
            #expect(early["usageLocation"] == .null)
            let refused = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: add
            )
            #expect(refused.status == 400)
            #expect(refused.errorMessage == "License assignment cannot be done for user with invalid usage location.")

            clock.advance(by: .seconds(29))
            #expect(
                try await harness.graph(.GET, "/users/user0@contoso.com?$select=usageLocation", token: token)[
                    "usageLocation"
                ] == .null
            )
            clock.advance(by: .seconds(1))
            let seen = try await harness.graph(.GET, "/users/user0@contoso.com?$select=usageLocation", token: token)
            #expect(seen["usageLocation"] == .string("NL"))
            #expect(
                try await harness.graph(.POST, "/users/user0@contoso.com/assignLicense", token: token, json: add).status
                    == 200
            )
        }
    }

    @Test("an invalid PATCH is refused at once, lag or not")
    func invalidPatch() async throws {
        let clock = ManualSimulatorClock()
        try await Harness.run(
            tenant: Fixture.tenant(users: 1),
            configuration: Self.configuration(lag: .seconds(30), clock: clock)
        ) { harness in
            let reply = try await harness.graph(
                .PATCH,
                "/users/user0@contoso.com",
                token: try await harness.token(),
                json: #"{"usageLocation":"Netherlands"}"#
            )
            #expect(reply.status == 400)
        }
    }

    @Test("a membership change is seen at once by the plain listing, by advanced queries only after the lag")
    func membershipIndex() async throws {
        let clock = ManualSimulatorClock()
        try await Harness.run(
            tenant: GroupsTests.tenant(),
            configuration: Self.configuration(lag: .seconds(60), clock: clock)
        ) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let engineering = MembershipTests.engineering
            let advanced = [("ConsistencyLevel", "eventual")]
            let cast = "/groups/\(engineering)/transitiveMembers/microsoft.graph.user?$count=true&$select=id"
            #expect(
                try await harness.graph(
                    .DELETE,
                    "/groups/\(engineering)/members/\(Fixture.userId(0))/$ref",
                    token: token
                ).status == 204
            )
            #expect(
                try await harness.graph(
                    .POST,
                    "/groups/\(engineering)/members/$ref",
                    token: token,
                    json: MembershipTests.reference(Fixture.userId(5))
                ).status == 204
            )

            let plain = try await MembershipTests.userIds(
                harness,
                "/groups/\(engineering)/transitiveMembers",
                token: token
            )
            #expect(plain == MembershipTests.ids(1, 2, 3, 4, 5))
            let stale = try await harness.graph(.GET, cast, token: token, headers: advanced)
            #expect(Set(stale.values.compactMap { $0["id"]?.stringValue }) == MembershipTests.ids(0, 1, 2, 3, 4))
            #expect(stale["@odata.count"]?.intValue == 5)
            let staleDirect = try await MembershipTests.userIds(
                harness,
                "/groups/\(engineering)/members",
                token: token,
                headers: advanced
            )
            #expect(staleDirect == MembershipTests.ids(0, 1))

            clock.advance(by: .seconds(60))
            let fresh = try await harness.graph(.GET, cast, token: token, headers: advanced)
            #expect(Set(fresh.values.compactMap { $0["id"]?.stringValue }) == MembershipTests.ids(1, 2, 3, 4, 5))
            #expect(
                try await MembershipTests.userIds(
                    harness,
                    "/groups/\(engineering)/members",
                    token: token,
                    headers: advanced
                ) == MembershipTests.ids(1, 5)
            )
        }
    }

    @Test("without a lag (the default) every write is visible at once")
    func noLag() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            #expect(
                try await harness.graph(
                    .PATCH,
                    "/users/user0@contoso.com",
                    token: token,
                    json: #"{"usageLocation":"JP"}"#
                ).status == 204
            )
            #expect(
                try await harness.graph(.GET, "/users/user0@contoso.com?$select=usageLocation", token: token)[
                    "usageLocation"
                ] == .string("JP")
            )
        }
    }
}
