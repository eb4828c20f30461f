import AllotCore
import Testing

@testable import AllotSimulator

@Suite("Users delta: tracked properties, filters, removals, what Graph refuses")
struct UsersDeltaTests {
    /// Every value of a delta round, following nextLinks to the deltaLink (at most `limit` pages).
    static func round(
        _ harness: Harness,
        _ path: String,
        token: String,
        headers: [(String, String)] = []
    ) async throws -> (values: [JSONValue], deltaLink: String) {
        let pages = try await harness.pages(path, token: token, headers: headers, limit: 100)
        for page in pages { #expect(page.status == 200, "\(page.errorCode ?? "") \(page.errorMessage ?? "")") }
        #expect(
            pages.allSatisfy { !($0["@odata.nextLink"] != nil && $0["@odata.deltaLink"] != nil) },
            "never both links on a page"
        )
        return (pages.flatMap(\.values), try #require(pages.last?["@odata.deltaLink"]?.stringValue))
    }

    static func ids(_ values: [JSONValue]) -> [String] { values.compactMap { $0["id"]?.stringValue } }
    static func id(_ index: Int) -> String { Fixture.userId(index).description }

    @Test("a change to a selected property brings the user back; to another property, or to licenses, it does not")
    func selectTracksProperties() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 4)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let first = try await Self.round(harness, "/users/delta?$select=department,accountEnabled", token: token)
            #expect(first.values.count == 4)
            #expect(first.values[0].objectValue?.keys.sorted() == ["accountEnabled", "department", "id"])

            #expect(
                try await harness.graph(.PATCH, "/users/user1@contoso.com", token: token, json: #"{"jobTitle":"Boss"}"#)
                    .status == 204
            )
            #expect(
                try await harness.graph(
                    .POST,
                    "/users/user2@contoso.com/assignLicense",
                    token: token,
                    json: AssignLicenseTests.body(add: [(Fixture.visio, [])])
                )
                .status == 200
            )
            let untracked = try await Self.round(harness, first.deltaLink, token: token)
            #expect(untracked.values.isEmpty, "jobTitle is not selected and Graph does not track licenses")

            #expect(
                try await harness.graph(
                    .PATCH,
                    "/users/user1@contoso.com",
                    token: token,
                    json: #"{"department":"Sales"}"#
                ).status == 204
            )
            try harness.simulator.updateUser(Fixture.userId(3), ["accountEnabled": .bool(false)])
            let tracked = try await Self.round(harness, untracked.deltaLink, token: token)
            #expect(Self.ids(tracked.values) == [Self.id(1), Self.id(3)])
            #expect(tracked.values[0]["department"] == .string("Sales"))
            #expect(tracked.values[1]["accountEnabled"] == .bool(false))
            #expect(
                tracked.values[1]["department"] == .string("Finance"),
                "unchanged selected properties come along by default"
            )

            let again = try await Self.round(harness, tracked.deltaLink, token: token)
            #expect(again.values.isEmpty)
        }
    }

    @Test("Prefer: return=minimal writes only the properties that changed")
    func minimal() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let first = try await Self.round(harness, "/users/delta?$select=department,jobTitle", token: token)
            try harness.simulator.updateUser(
                Fixture.userId(0),
                [
                    "jobTitle": .string("Architect"),
                    "onPremisesExtensionAttributes": .object(["extensionAttribute1": .string("VISIO")]),
                ]
            )
            let reply = try await harness.graph(
                .GET,
                first.deltaLink,
                token: token,
                headers: [("Prefer", "return=minimal")]
            )
            #expect(reply.values == [.object(["id": .string(Self.id(0)), "jobTitle": .string("Architect")])])
            #expect(reply.header("Preference-Applied") == "return=minimal")
        }
    }

    @Test("$filter by id (up to 50) scopes the round; anything else, and $top, $expand, $orderby, are refused")
    func filterAndRefusals() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 5)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let filter = "$filter=id%20eq%20'\(Self.id(1))'%20or%20id%20eq%20'\(Self.id(3))'"
            let first = try await Self.round(harness, "/users/delta?$select=department&\(filter)", token: token)
            #expect(Set(Self.ids(first.values)) == [Self.id(1), Self.id(3)])
            try harness.simulator.updateUser(Fixture.userId(2), ["department": .string("HR")])
            try harness.simulator.updateUser(Fixture.userId(3), ["department": .string("HR")])
            #expect(Self.ids(try await Self.round(harness, first.deltaLink, token: token).values) == [Self.id(3)])

            let tooMany = (0..<51).map { "id%20eq%20'\(Fixture.userId($0))'" }.joined(separator: "%20or%20")
            let refused = try await harness.graph(.GET, "/users/delta?$filter=\(tooMany)", token: token)
            #expect(refused.status == 400)
            #expect(refused.errorCode == "Request_UnsupportedQuery")
            let byDepartment = try await harness.graph(
                .GET,
                "/users/delta?$filter=department%20eq%20'HR'",
                token: token
            )
            #expect(byDepartment.status == 400)
            for option in ["$top=5", "$expand=manager", "$orderby=displayName"] {
                let reply = try await harness.graph(.GET, "/users/delta?\(option)", token: token)
                #expect(reply.status == 400, "\(option)")
                #expect(reply.errorCode == "Request_UnsupportedQuery", "\(option)")
            }
        }
    }

    @Test(
        "created users come whole, deleted ones as @removed: changed, or deleted once purged; a joiner from POST /users too"
    )
    func creationAndRemoval() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let first = try await Self.round(harness, "/users/delta?$select=displayName,department", token: token)
            let created = try await harness.graph(
                .POST,
                "/users",
                token: token,
                json:
                    #"{"accountEnabled":true,"displayName":"Joiner","mailNickname":"joiner","userPrincipalName":"joiner@contoso.com","department":"Sales","passwordProfile":{"password":"Secret-123"}}"#
            )
            #expect(created.status == 201)
            let joinerId = try #require(created["id"]?.stringValue)
            #expect(created["displayName"] == .string("Joiner"))
            #expect(harness.simulator.deleteUser(Fixture.userId(1)))
            let second = try await Self.round(harness, first.deltaLink, token: token)
            #expect(
                second.values == [
                    .object(["id": .string(joinerId), "displayName": .string("Joiner"), "department": .string("Sales")]
                    ),
                    .object(["id": .string(Self.id(1)), "@removed": .object(["reason": .string("changed")])]),
                ]
            )
            #expect(harness.simulator.purgeDeletedUser(Fixture.userId(1)))
            #expect(harness.simulator.deleteUser(Fixture.userId(2), permanently: true))
            let third = try await Self.round(harness, second.deltaLink, token: token)
            #expect(
                third.values == [
                    .object(["id": .string(Self.id(1)), "@removed": .object(["reason": .string("deleted")])]),
                    .object(["id": .string(Self.id(2)), "@removed": .object(["reason": .string("deleted")])]),
                ]
            )
            let duplicate = try await harness.graph(
                .POST,
                "/users",
                token: token,
                json:
                    #"{"accountEnabled":true,"displayName":"J","mailNickname":"j","userPrincipalName":"JOINER@contoso.com","passwordProfile":{"password":"x"}}"#
            )
            #expect(duplicate.status == 400)
            #expect(
                duplicate.errorMessage
                    == "Another object with the same value for property userPrincipalName already exists."
            )
            let incomplete = try await harness.graph(.POST, "/users", token: token, json: #"{"displayName":"J"}"#)
            #expect(incomplete.status == 400)
        }
    }

    @Test("a first round pages in creation order: users created or deleted between pages make nobody skipped")
    func stablePaging() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 6)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            let prefer = [("Prefer", "odata.maxpagesize=2")]
            let page1 = try await harness.graph(.GET, "/users/delta?$select=id", token: token, headers: prefer)
            #expect(Self.ids(page1.values) == [Self.id(0), Self.id(1)])
            harness.simulator.deleteUser(Fixture.userId(0))
            harness.simulator.deleteUser(Fixture.userId(3))
            let rest = try await Self.round(
                harness,
                try #require(page1["@odata.nextLink"]?.stringValue),
                token: token,
                headers: prefer
            )
            #expect(Self.ids(rest.values) == [Self.id(2), Self.id(4), Self.id(5)])
            let next = try await Self.round(harness, rest.deltaLink, token: token)
            #expect(
                Set(Self.ids(next.values)) == [Self.id(0), Self.id(3)],
                "the deletions made during the round come in the next"
            )
        }
    }

    @Test("$deltatoken=latest gives only a deltaLink, which sees the changes made after it")
    func syncFromNow() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let token = try await harness.token(roles: MembershipTests.admin)
            try harness.simulator.updateUser(Fixture.userId(0), ["department": .string("Legal")])
            let latest = try await harness.graph(
                .GET,
                "/users/delta?$select=department&$deltatoken=latest",
                token: token
            )
            #expect(latest.values.isEmpty)
            #expect(latest["@odata.nextLink"] == nil)
            try harness.simulator.updateUser(Fixture.userId(1), ["department": .string("Legal")])
            let changes = try await Self.round(
                harness,
                try #require(latest["@odata.deltaLink"]?.stringValue),
                token: token
            )
            #expect(Self.ids(changes.values) == [Self.id(1)])
        }
    }
}
