import AllotCore
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Users: list, get, filter, patch")
struct UsersTests {
    @Test("paging boundaries with $top=999", arguments: [(0, 1), (999, 1), (1000, 2), (1998, 2), (1999, 3)])
    func pagingBoundaries(users: Int, expectedPages: Int) async throws {
        try await Harness.run(tenant: Fixture.tenant(users: users)) { harness in
            let token = try await harness.token()
            let pages = try await harness.pages("/users?$select=id,userPrincipalName&$top=999", token: token)
            #expect(pages.count == expectedPages)
            #expect(pages.allSatisfy { $0.status == 200 })
            let ids = pages.flatMap { $0.values.compactMap { $0["id"]?.stringValue } }
            #expect(ids.count == users)
            #expect(Set(ids).count == users)
            #expect(pages.last?["@odata.nextLink"] == nil)
            if users > 999 { #expect(pages[0].values.count == 999) }
        }
    }

    @Test("the default page is 100 users and $top above the maximum is refused")
    func pageSizes() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 150)) { harness in
            let token = try await harness.token()
            let first = try await harness.graph(.GET, "/users", token: token)
            #expect(first.values.count == 100)
            #expect(
                first["@odata.nextLink"]?.stringValue?.hasPrefix(harness.endpoints.graphEndpoint + "/users?") == true
            )
            let tooBig = try await harness.graph(.GET, "/users?$top=1000", token: token)
            #expect(tooBig.status == 400)
            #expect(tooBig.errorCode == "Request_UnsupportedQuery")
            #expect(tooBig.errorMessage == "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.")
            let zero = try await harness.graph(.GET, "/users?$top=0", token: token)
            #expect(zero.status == 400)
        }
    }

    @Test("$select returns exactly the named properties, null or [] when a user has none")
    func selectHonoured() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 2)) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .GET,
                "/users?$select=id,department,usageLocation,assignedLicenses,city,otherMails",
                token: token
            )
            #expect(reply.status == 200)
            let user = try #require(reply.values.first?.objectValue)
            #expect(Set(user.keys) == ["id", "department", "usageLocation", "assignedLicenses", "city", "otherMails"])
            #expect(user["city"] == .null)
            #expect(user["otherMails"] == .array([]))
            #expect(user["usageLocation"] == .string("US"))
            #expect(
                reply["@odata.context"]?.stringValue?.hasSuffix(
                    "$metadata#users(id,department,usageLocation,assignedLicenses,city,otherMails)"
                ) == true
            )
        }
    }

    @Test("without $select Graph's default properties come back")
    func defaultProperties() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(.GET, "/users", token: token)
            let user = try #require(reply.values.first?.objectValue)
            #expect(Set(user.keys) == Set(UserProperties.defaults))
            #expect(user["assignedLicenses"] == nil)
        }
    }

    @Test("an unknown or nested $select property is a 400")
    func selectErrors() async throws {
        try await Harness.run { harness in
            let token = try await harness.token()
            let unknown = try await harness.graph(.GET, "/users?$select=id,shoeSize", token: token)
            #expect(unknown.status == 400)
            #expect(
                unknown.errorMessage == "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
            )
            let nested = try await harness.graph(
                .GET,
                "/users?$select=onPremisesExtensionAttributes/extensionAttribute1",
                token: token
            )
            #expect(nested.status == 400)
        }
    }

    @Test("filters: userPrincipalName, id, assignedLicenses/any and a combination")
    func filters() async throws {
        var tenant = Fixture.tenant(users: 6)
        tenant.users[2] = Fixture.user(2, states: [LicenseAssignmentState(skuId: Fixture.e3)])
        tenant.users[4] = Fixture.user(
            4,
            states: [LicenseAssignmentState(skuId: Fixture.e3), LicenseAssignmentState(skuId: Fixture.powerBI)]
        )
        try await Harness.run(tenant: tenant) { harness in
            let token = try await harness.token()
            let byName = try await harness.graph(
                .GET,
                "/users?$filter=userPrincipalName%20eq%20'USER3@contoso.com'&$select=id",
                token: token
            )
            #expect(byName.values.map { $0["id"] } == [.string(Fixture.userId(3).description)])
            let byId = try await harness.graph(
                .GET,
                "/users?$filter=id+eq+'\(Fixture.userId(5))'&$select=userPrincipalName",
                token: token
            )
            #expect(byId.values.map { $0["userPrincipalName"] } == [.string("user5@contoso.com")])
            let bySku = try await harness.graph(
                .GET,
                "/users?$filter=assignedLicenses/any(s:s/skuId%20eq%20\(Fixture.e3))&$select=id",
                token: token
            )
            #expect(bySku.values.count == 2)
            let both = try await harness.graph(
                .GET,
                "/users?$filter=assignedLicenses/any(x:x/skuId%20eq%20\(Fixture.e3))%20and%20department%20eq%20'engineering'&$select=id",
                token: token
            )
            #expect(both.values.count == 2)
            let none = try await harness.graph(
                .GET,
                "/users?$filter=userPrincipalName%20eq%20'nobody@contoso.com'",
                token: token
            )
            #expect(none.status == 200)
            #expect(none.values.isEmpty)
            let quotes = try await harness.graph(
                .GET,
                "/users?$filter=userPrincipalName%20eq%20'o''brien@contoso.com'",
                token: token
            )
            #expect(quotes.status == 200)
            let bad = try await harness.graph(.GET, "/users?$filter=userPrincipalName%20eq", token: token)
            #expect(bad.status == 400)
        }
    }

    @Test("$count needs ConsistencyLevel: eventual")
    func count() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 5)) { harness in
            let token = try await harness.token()
            let without = try await harness.graph(.GET, "/users?$count=true", token: token)
            #expect(without.status == 400)
            #expect(without.errorMessage == "$count is not currently supported.")
            let with = try await harness.graph(
                .GET,
                "/users?$count=true&$top=2",
                token: token,
                headers: [("ConsistencyLevel", "eventual")]
            )
            #expect(with["@odata.count"]?.intValue == 5)
        }
    }

    @Test("/$count answers the number as text, and only with ConsistencyLevel: eventual")
    func rawCount() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 7, groupOf: 4)) { harness in
            let token = try await harness.token()
            let eventual = [("ConsistencyLevel", "eventual")]
            let users = try await harness.graph(.GET, "/users/$count", token: token, headers: eventual)
            #expect(users.status == 200)
            #expect(String(decoding: users.bytes, as: UTF8.self) == "7")
            #expect(users.header("Content-Type")?.hasPrefix("text/plain") == true)
            let filtered = try await harness.graph(
                .GET,
                "/users/$count?$filter=id%20eq%20'\(Fixture.userId(1))'",
                token: token,
                headers: eventual
            )
            #expect(String(decoding: filtered.bytes, as: UTF8.self) == "1", "$count counts what the $filter selects")
            let members = try await harness.graph(
                .GET,
                "/groups/\(Fixture.groupId(1))/transitiveMembers/microsoft.graph.user/$count",
                token: token,
                headers: eventual
            )
            #expect(String(decoding: members.bytes, as: UTF8.self) == "4")
            let without = try await harness.graph(.GET, "/users/$count", token: token)
            #expect(without.status == 400)
            #expect(without.errorCode == "Request_UnsupportedQuery")
            let inBatch = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json:
                    #"{"requests":[{"id":"1","method":"GET","url":"/users/$count","headers":{"ConsistencyLevel":"eventual"}}]}"#
            )
            #expect(inBatch["responses", 0, "body"] == .string(Data("7".utf8).base64EncodedString()))
        }
    }

    @Test("get by id, by user principal name (guest #EXT# included), and 404")
    func getUser() async throws {
        var tenant = Fixture.tenant(users: 2)
        tenant.users.append(
            DirectoryUser(
                id: Fixture.userId(9),
                userPrincipalName: "ann.lee_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                usageLocation: nil,
                properties: ["userType": .string("Guest")]
            )
        )
        try await Harness.run(tenant: tenant) { harness in
            let token = try await harness.token()
            let byId = try await harness.graph(
                .GET,
                "/users/\(Fixture.userId(1))?$select=userPrincipalName",
                token: token
            )
            #expect(byId["userPrincipalName"] == .string("user1@contoso.com"))
            #expect(byId["@odata.context"]?.stringValue?.hasSuffix("/$entity") == true)
            let guest = try await harness.graph(
                .GET,
                "/users/ann.lee_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select=id,userType",
                token: token
            )
            #expect(guest["id"] == .string(Fixture.userId(9).description))
            let missing = try await harness.graph(.GET, "/users/ghost@contoso.com", token: token)
            #expect(missing.status == 404)
            #expect(missing.errorCode == "Request_ResourceNotFound")
            #expect(
                missing.errorMessage
                    == "Resource 'ghost@contoso.com' does not exist or one of its queried reference-property objects are not present."
            )
            #expect(missing["error", "innerError", "request-id"]?.stringValue == missing.header("request-id"))
        }
    }

    @Test("PATCH sets usageLocation (204) and refuses bad values and read-only properties")
    func patch() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            let path = "/users/user0@contoso.com"
            let ok = try await harness.graph(.PATCH, path, token: token, json: #"{"usageLocation":"de"}"#)
            #expect(ok.status == 204)
            #expect(ok.bytes.isEmpty)
            let read = try await harness.graph(.GET, path + "?$select=usageLocation", token: token)
            #expect(read["usageLocation"] == .string("DE"))
            #expect(harness.simulator.currentTenant().users[0].usageLocation == "DE")
            let bad = try await harness.graph(.PATCH, path, token: token, json: #"{"usageLocation":"Germany"}"#)
            #expect(bad.status == 400)
            #expect(bad.errorMessage == "Invalid value specified for property 'usageLocation' of resource 'User'.")
            let readOnly = try await harness.graph(.PATCH, path, token: token, json: #"{"assignedLicenses":[]}"#)
            #expect(readOnly.status == 400)
            let notJSON = try await harness.graph(.PATCH, path, token: token, json: "{usageLocation")
            #expect(notJSON.status == 400)
            #expect(notJSON.errorCode == "BadRequest")
        }
    }

    @Test("/me is for delegated tokens only")
    func me() async throws {
        try await Harness.run { harness in
            let reply = try await harness.graph(.GET, "/me", token: try await harness.token())
            #expect(reply.status == 400)
            #expect(reply.errorMessage == "/me request is only valid with delegated authentication flow.")
        }
    }
}
