import AllotCore
import Testing

@testable import AllotSimulator

@Suite("$batch: items, dependsOn, 424, limits")
struct BatchTests {
    static func item(_ id: String, user: Int, add: GUID, dependsOn: [String] = []) -> String {
        let depends = dependsOn.isEmpty ? "" : #","dependsOn":[\#(dependsOn.map { "\"\($0)\"" }.joined(separator: ","))]"#
        return #"{"id":"\#(id)","method":"POST","url":"/users/user\#(user)@contoso.com/assignLicense","headers":{"Content-Type":"application/json"},"body":{"addLicenses":[{"skuId":"\#(add)","disabledPlans":[]}],"removeLicenses":[]}\#(depends)}"#
    }

    static func batch(_ items: [String]) -> String {
        #"{"requests":[\#(items.joined(separator: ","))]}"#
    }

    static func responses(_ reply: Harness.Reply) -> [String: JSONValue] {
        var byId: [String: JSONValue] = [:]
        for response in reply["responses"]?.arrayValue ?? [] {
            if let id = response["id"]?.stringValue { byId[id] = response }
        }
        return byId
    }

    @Test("independent items each get their own result, not in request order")
    func independent() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 4)) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST, "/$batch", token: token,
                json: Self.batch([
                    Self.item("1", user: 0, add: Fixture.powerBI), Self.item("2", user: 1, add: Fixture.powerBI),
                    #"{"id":"3","method":"GET","url":"/users/user2@contoso.com?$select=id"}"#,
                    #"{"id":"4","method":"GET","url":"users/nobody@contoso.com"}"#,
                ]))
            #expect(reply.status == 200)
            let order = reply["responses"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(order != ["1", "2", "3", "4"])
            let byId = Self.responses(reply)
            #expect(byId["1"]?["status"]?.intValue == 200)
            #expect(byId["2"]?["status"]?.intValue == 200)
            #expect(byId["3"]?["body"]?["id"] == .string(Fixture.userId(2).description))
            #expect(byId["4"]?["status"]?.intValue == 404)
            #expect(byId["4"]?["body"]?["error"]?["code"] == .string("Request_ResourceNotFound"))
            #expect(byId["1"]?["headers"]?["Content-Type"]?.stringValue?.hasPrefix("application/json") == true)
            let log = harness.simulator.requestLog().last
            #expect(log?.batchItems?.map(\.status).sorted() == [200, 200, 200, 404])
        }
    }

    @Test("dependsOn runs in order; a failed dependency fails its dependents with 424")
    func dependsOnAnd424() async throws {
        var tenant = Fixture.tenant(users: 3)
        tenant.users[1] = Fixture.user(1, usageLocation: nil)
        try await Harness.run(tenant: tenant) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST, "/$batch", token: token,
                json: Self.batch([
                    #"{"id":"a","method":"PATCH","url":"/users/user0@contoso.com","headers":{"Content-Type":"application/json"},"body":{"usageLocation":"GB"}}"#,
                    Self.item("b", user: 0, add: Fixture.visio, dependsOn: ["a"]),
                    Self.item("c", user: 1, add: Fixture.visio),
                    Self.item("d", user: 1, add: Fixture.powerBI, dependsOn: ["c"]),
                    Self.item("e", user: 2, add: Fixture.powerBI, dependsOn: ["d"]),
                ]))
            let byId = Self.responses(reply)
            #expect(byId["a"]?["status"]?.intValue == 204)
            #expect(byId["b"]?["status"]?.intValue == 200)
            #expect(byId["c"]?["status"]?.intValue == 400)
            #expect(byId["d"]?["status"]?.intValue == 424)
            #expect(byId["e"]?["status"]?.intValue == 424)
            #expect(byId["d"]?["body"]?["error"]?["code"] == .string("FailedDependency"))
            let users = harness.simulator.currentTenant().users
            #expect(users[0].usageLocation == "GB")
            #expect(users[2].assignedLicenses.isEmpty)
        }
    }

    @Test("malformed batches are refused whole", arguments: [
        (#"{"requests":[]}"#, "at least one"),
        (#"{"reqs":[]}"#, "requests"),
        (#"{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}"#, "unique"),
        (#"{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["9"]}]}"#, "not in the batch"),
    ])
    func malformed(_ body: String, _ fragment: String) async throws {
        try await Harness.run { harness in
            let reply = try await harness.graph(.POST, "/$batch", token: try await harness.token(), json: body)
            #expect(reply.status == 400)
            #expect(reply.errorMessage?.contains(fragment) == true, "\(reply.errorMessage ?? "")")
        }
    }

    @Test("more than 20 items is a 400; exactly 20 is fine")
    func limit() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let token = try await harness.token()
            let get = { (id: Int) in #"{"id":"\#(id)","method":"GET","url":"/users/user0@contoso.com"}"# }
            let twenty = try await harness.graph(.POST, "/$batch", token: token, json: Self.batch((1...20).map(get)))
            #expect(twenty.status == 200)
            #expect(twenty["responses"]?.arrayValue?.count == 20)
            let many = try await harness.graph(.POST, "/$batch", token: token, json: Self.batch((1...21).map(get)))
            #expect(many.status == 400)
        }
    }

    @Test("an item with a body but no Content-Type fails alone")
    func missingContentType() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 1)) { harness in
            let reply = try await harness.graph(
                .POST, "/$batch", token: try await harness.token(),
                json: Self.batch([
                    #"{"id":"1","method":"PATCH","url":"/users/user0@contoso.com","body":{"usageLocation":"GB"}}"#,
                    #"{"id":"2","method":"GET","url":"/users/user0@contoso.com"}"#,
                ]))
            let byId = Self.responses(reply)
            #expect(byId["1"]?["status"]?.intValue == 400)
            #expect(byId["2"]?["status"]?.intValue == 200)
        }
    }
}
