import AllotCore
import Synchronization
import Testing

@testable import AllotSimulator

@Suite("$batch: items, dependsOn, 424, limits")
struct BatchTests {
    static func item(_ id: String, user: Int, add: GUID, dependsOn: [String] = []) -> String {
        let depends =
            dependsOn.isEmpty ? "" : #","dependsOn":[\#(dependsOn.map { "\"\($0)\"" }.joined(separator: ","))]"#
        return
            #"{"id":"\#(id)","method":"POST","url":"/users/user\#(user)@contoso.com/assignLicense","headers":{"Content-Type":"application/json"},"body":{"addLicenses":[{"skuId":"\#(add)","disabledPlans":[]}],"removeLicenses":[]}\#(depends)}"#
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

    @Test("independent items each get their own result")
    func independent() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 4)) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: Self.batch([
                    Self.item("1", user: 0, add: Fixture.powerBI), Self.item("2", user: 1, add: Fixture.powerBI),
                    #"{"id":"3","method":"GET","url":"/users/user2@contoso.com?$select=id"}"#,
                    #"{"id":"4","method":"GET","url":"users/nobody@contoso.com"}"#,
                ])
            )
            #expect(reply.status == 200)
            let order = reply["responses"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(order.sorted() == ["1", "2", "3", "4"])
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

    @Test("a fully sequential batch runs in order; a failed dependency fails its dependents with 424")
    func dependsOnAnd424() async throws {
        var tenant = Fixture.tenant(users: 3)
        tenant.users[1] = Fixture.user(1, usageLocation: nil)
        try await Harness.run(tenant: tenant) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: token,
                json: Self.batch([
                    #"{"id":"a","method":"PATCH","url":"/users/user0@contoso.com","headers":{"Content-Type":"application/json"},"body":{"usageLocation":"GB"}}"#,
                    Self.item("b", user: 0, add: Fixture.visio, dependsOn: ["a"]),
                    Self.item("c", user: 1, add: Fixture.visio, dependsOn: ["a"]),
                    Self.item("d", user: 1, add: Fixture.powerBI, dependsOn: ["c"]),
                    Self.item("e", user: 2, add: Fixture.powerBI, dependsOn: ["d"]),
                ])
            )
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

    @Test(
        "malformed batches are refused whole",
        arguments: [
            (#"{"requests":[]}"#, "at least one"),
            (#"{"reqs":[]}"#, "requests"),
            (
                #"{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}"#,
                "unique"
            ),
            (
                #"{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["9"]}]}"#,
                "Invalid dependency for request Id '1'"
            ),
        ]
    )
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
                .POST,
                "/$batch",
                token: try await harness.token(),
                json: Self.batch([
                    #"{"id":"1","method":"PATCH","url":"/users/user0@contoso.com","body":{"usageLocation":"GB"}}"#,
                    #"{"id":"2","method":"GET","url":"/users/user0@contoso.com"}"#,
                ])
            )
            let byId = Self.responses(reply)
            #expect(byId["1"]?["status"]?.intValue == 400)
            #expect(byId["2"]?["status"]?.intValue == 200)
        }
    }

    @Test("a batch mixing requests with and without dependsOn is refused whole, as Graph refuses it")
    func mixed() async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let before = harness.simulator.currentTenant()
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: try await harness.token(),
                json: Self.batch([
                    Self.item("1", user: 0, add: Fixture.visio),
                    Self.item("2", user: 1, add: Fixture.visio, dependsOn: ["1"]),
                    Self.item("3", user: 2, add: Fixture.visio),
                ])
            )
            #expect(reply.status == 400)
            #expect(reply.errorCode == "BadRequest")
            #expect(reply.errorMessage == "Batch should be either fully sequential or fully parallel.")
            #expect(reply["responses"] == nil)
            #expect(harness.simulator.currentTenant() == before, "nothing of a refused batch runs")
        }
    }

    @Test("a dependsOn must name an earlier request", arguments: [["3"], ["2"], ["1", "3"]])
    func dependencyOnLaterRequest(_ dependsOn: [String]) async throws {
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: try await harness.token(),
                json: Self.batch([
                    Self.item("1", user: 0, add: Fixture.visio),
                    Self.item("2", user: 1, add: Fixture.visio, dependsOn: dependsOn),
                    Self.item("3", user: 2, add: Fixture.visio, dependsOn: ["1"]),
                ])
            )
            #expect(reply.status == 400)
            #expect(reply.errorCode == "BadRequest")
            #expect(
                reply.errorMessage?.hasPrefix("Invalid dependency for request Id '2'") == true,
                "\(reply.errorMessage ?? "")"
            )
        }
    }

    /// One seat of Visio left and two parallel adds for it: the item that runs first wins.
    static func seatRace(
        order: SimulatedBatchOrder,
        seed: UInt64
    ) async throws -> (winner: String, answerOrder: [String]) {
        var tenant = Fixture.tenant(users: 2)
        tenant.subscribedSkus = tenant.subscribedSkus.map {
            $0.skuId == Fixture.visio ? Fixture.sku("VISIOCLIENT", prepaid: 1) : $0
        }
        var configuration = SimulatorConfiguration()
        configuration.batchOrder = order
        configuration.batchSeed = seed
        let result = Mutex<(String, [String])>(("", []))
        try await Harness.run(tenant: tenant, configuration: configuration) { harness in
            let reply = try await harness.graph(
                .POST,
                "/$batch",
                token: try await harness.token(),
                json: Self.batch([
                    Self.item("first", user: 0, add: Fixture.visio), Self.item("second", user: 1, add: Fixture.visio),
                ])
            )
            let byId = Self.responses(reply)
            let winners = byId.filter { $0.value["status"]?.intValue == 200 }.map(\.key)
            #expect(winners.count == 1, "one seat, one winner")
            let loser = byId.first { $0.value["status"]?.intValue == 400 }
            #expect(
                loser?.value["body"]?["error"]?["message"]
                    == .string("Subscription with SKU \(Fixture.visio) does not have any available licenses.")
            )
            let answered = reply["responses"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            result.withLock { $0 = (winners.first ?? "", answered) }
        }
        return result.withLock { $0 }
    }

    @Test("parallel items run and answer in a seeded random order: reproducible, and not always request order")
    func randomOrder() async throws {
        var winners: Set<String> = []
        var answerOrders: Set<[String]> = []
        for seed in UInt64(1)...12 {
            let (winner, answered) = try await Self.seatRace(order: .random, seed: seed)
            let again = try await Self.seatRace(order: .random, seed: seed)
            #expect(again.winner == winner && again.answerOrder == answered, "seed \(seed) gives the same orders again")
            winners.insert(winner)
            answerOrders.insert(answered)
        }
        #expect(winners == ["first", "second"], "over twelve seeds each item runs first at least once")
        #expect(answerOrders == [["first", "second"], ["second", "first"]], "and each answer order appears")
    }

    @Test("sequential batch order runs and answers in request order, for debugging")
    func sequentialOrder() async throws {
        for seed in UInt64(1)...4 {
            let (winner, answered) = try await Self.seatRace(order: .sequential, seed: seed)
            #expect(winner == "first")
            #expect(answered == ["first", "second"])
        }
    }
}
