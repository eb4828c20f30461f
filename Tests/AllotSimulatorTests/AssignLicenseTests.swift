import AllotCore
import AllotTools
import Testing

@testable import AllotSimulator

@Suite("assignLicense: validations, error bodies and seats")
struct AssignLicenseTests {
    static let gbl = Fixture.groupId(1)

    /// user0: nothing; user1: E3 direct; user2: E3 via the group only; user3: E3 direct and via
    /// the group; user4: no usage location; user5: E1 (Exchange Plan 1).
    static func tenant(seats: Int = 10) -> Snapshot {
        var tenant = Fixture.tenant(users: 6, seats: seats)
        tenant.users[1] = Fixture.user(1, states: [LicenseAssignmentState(skuId: Fixture.e3)])
        tenant.users[2] = Fixture.user(2, states: [LicenseAssignmentState(skuId: Fixture.e3, assignedByGroup: gbl)])
        tenant.users[3] = Fixture.user(
            3,
            states: [
                LicenseAssignmentState(skuId: Fixture.e3),
                LicenseAssignmentState(skuId: Fixture.e3, assignedByGroup: gbl),
            ]
        )
        tenant.users[4] = Fixture.user(4, usageLocation: nil)
        tenant.users[5] = Fixture.user(5, states: [LicenseAssignmentState(skuId: Fixture.e1)])
        return tenant
    }

    static func consumed(_ harness: Harness, _ sku: GUID) -> Int {
        harness.simulator.currentTenant().subscribedSkus.first { $0.skuId == sku }!.consumedUnits
    }

    static func body(add: [(GUID, [GUID])] = [], remove: [GUID] = []) -> String {
        let adds = add.map {
            #"{"skuId":"\#($0.0)","disabledPlans":[\#($0.1.map { "\"\($0)\"" }.joined(separator: ","))]}"#
        }
        return
            #"{"addLicenses":[\#(adds.joined(separator: ","))],"removeLicenses":[\#(remove.map { "\"\($0)\"" }.joined(separator: ","))]}"#
    }

    @Test("a user holding a SKU directly and through a group consumes one seat")
    func seatsCountedOncePerUser() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            #expect(Self.consumed(harness, Fixture.e3) == 3)
        }
    }

    @Test("assign, change plans, remove: 200 with the user, consumed units follow")
    func assignAndRemove() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let yammer = Fixture.plan("YAMMER_ENTERPRISE", of: "SPE_E3")
            let added = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [yammer])])
            )
            #expect(added.status == 200)
            #expect(added["userPrincipalName"] == .string("user0@contoso.com"))
            #expect(added["id"] == .string(Fixture.userId(0).description))
            #expect(Self.consumed(harness, Fixture.e3) == 4)
            let user = try await harness.graph(
                .GET,
                "/users/user0@contoso.com?$select=assignedLicenses,licenseAssignmentStates",
                token: token
            )
            #expect(user["assignedLicenses", 0, "disabledPlans"] == .array([.string(yammer.description)]))
            #expect(user["licenseAssignmentStates", 0, "assignedByGroup"] == .null)

            let changed = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(changed.status == 200)
            #expect(Self.consumed(harness, Fixture.e3) == 4)
            #expect(harness.simulator.currentTenant().users[0].assignedLicenses == [AssignedLicense(skuId: Fixture.e3)])

            let removed = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(remove: [Fixture.e3])
            )
            #expect(removed.status == 200)
            #expect(Self.consumed(harness, Fixture.e3) == 3)
        }
    }

    @Test("removing the direct copy of a SKU also held through a group keeps the seat")
    func removeDirectCopy() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST,
                "/users/user3@contoso.com/assignLicense",
                token: token,
                json: Self.body(remove: [Fixture.e3])
            )
            #expect(reply.status == 200)
            #expect(Self.consumed(harness, Fixture.e3) == 3)
            let states = harness.simulator.currentTenant().users[3].licenseAssignmentStates ?? []
            #expect(states.map(\.assignedByGroup) == [Self.gbl])
            let readd = try await harness.graph(
                .POST,
                "/users/user2@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(readd.status == 200)
            #expect(Self.consumed(harness, Fixture.e3) == 3)
        }
    }

    @Test("a swap E3 to E5 in one call moves the seat")
    func swap() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let reply = try await harness.graph(
                .POST,
                "/users/user1@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e5, [])], remove: [Fixture.e3])
            )
            #expect(reply.status == 200)
            #expect(Self.consumed(harness, Fixture.e3) == 2)
            #expect(Self.consumed(harness, Fixture.e5) == 1)
        }
    }

    @Test("Exchange Online Plan 1 and Plan 2 may be held together, as Graph allows since 2023")
    func exchangePlansTogether() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let reply = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: try await harness.token(),
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(reply.status == 200)
            let held = Set(harness.simulator.currentTenant().users[5].assignedLicenses.map(\.skuId))
            #expect(held == [Fixture.e1, Fixture.e3])
        }
    }

    /// SharePoint Plan 1 (in E1) and Plan 2 (in E3) made to exclude each other, as Graph itself no
    /// longer has such a pair among the catalog's plans.
    static let sharePointPlan1 = Fixture.plan("SHAREPOINTSTANDARD", of: "STANDARDPACK")
    static let sharePointPlan2 = Fixture.plan("SHAREPOINTENTERPRISE", of: "SPE_E3")

    static var exclusiveSharePoint: SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        configuration.licensingRules = SimulatedLicensingRules(mutuallyExclusive: [[sharePointPlan1, sharePointPlan2]])
        return configuration
    }

    /// Graph's refusal for those two plans (the ids in the order Graph's message names them here).
    static var exclusiveSharePointMessage: String {
        let pair = [sharePointPlan1, sharePointPlan2].map(\.description).sorted().joined(separator: ",")
        return "License assignment failed because service plans \(pair) are mutually exclusive."
    }

    @Test("mutually exclusive plans (configured) are checked over the plans enabled after the call, with Graph's text")
    func mutuallyExclusive() async throws {
        try await Harness.run(tenant: Self.tenant(), configuration: Self.exclusiveSharePoint) { harness in
            let token = try await harness.token()
            let conflict = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(conflict.status == 400)
            #expect(conflict.errorCode == "Request_BadRequest")
            #expect(conflict.errorMessage == Self.exclusiveSharePointMessage)
            #expect(Self.consumed(harness, Fixture.e3) == 3)

            let swap = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])], remove: [Fixture.e1])
            )
            #expect(swap.status == 200)

            let together = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e1, [Self.sharePointPlan1])])
            )
            #expect(together.status == 200)
        }
    }

    static func plan(_ name: String) -> GUID { Fixture.plan(name, of: "SPE_E5") }

    @Test("a call that leaves a plan enabled without its prerequisite is refused, naming both, and changes nothing")
    func dependentPlans() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let before = harness.simulator.currentTenant()
            let withoutSkype = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e5, [Self.plan("MCOSTANDARD")])])
            )
            #expect(withoutSkype.status == 400)
            #expect(withoutSkype.errorCode == "Request_BadRequest")
            #expect(
                withoutSkype.errorMessage
                    == "License assignment failed because service plan \(Self.plan("MCOMEETADV")) depends on the service plan(s) \(Self.plan("MCOSTANDARD"))."
            )
            #expect(harness.simulator.currentTenant() == before)

            let withoutExchange = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e5, [Self.plan("EXCHANGE_S_ENTERPRISE")])])
            )
            #expect(
                withoutExchange.errorMessage
                    == "License assignment failed because service plan \(Self.plan("THREAT_INTELLIGENCE")) depends on the service plan(s) 9aaf7827-d63c-4b61-89c3-182f06f82e5c, \(Self.plan("EXCHANGE_S_ENTERPRISE"))."
            )

            let bothOff = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e5, [Self.plan("MCOSTANDARD"), Self.plan("MCOMEETADV")])])
            )
            #expect(bothOff.status == 200, "the dependent plan off too: nothing depends on a missing plan")
        }
    }

    @Test("a prerequisite may come from another SKU; removing that SKU is then refused")
    func prerequisiteFromAnotherSku() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let added = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e5, [Self.plan("EXCHANGE_S_ENTERPRISE")])])
            )
            #expect(added.status == 200, "Exchange Online Plan 1 comes with E1")
            let removal = try await harness.graph(
                .POST,
                "/users/user5@contoso.com/assignLicense",
                token: token,
                json: Self.body(remove: [Fixture.e1])
            )
            #expect(removal.status == 400)
            #expect(
                removal.errorMessage?.hasPrefix(
                    "License assignment failed because service plan \(Self.plan("THREAT_INTELLIGENCE")) depends on"
                ) == true
            )
        }
    }

    @Test("a state that breaks a dependency before the call (from a snapshot) does not block an unrelated call")
    func preexistingViolation() async throws {
        var tenant = Self.tenant()
        tenant.users[0] = Fixture.user(
            0,
            states: [
                LicenseAssignmentState(
                    skuId: Fixture.project,
                    disabledPlans: [Fixture.plan("SHAREPOINTENTERPRISE", of: "PROJECTPROFESSIONAL")]
                )
            ]
        )
        try await Harness.run(tenant: tenant) { harness in
            let reply = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: try await harness.token(),
                json: Self.body(add: [(Fixture.visio, [])])
            )
            #expect(reply.status == 200)
        }
    }

    @Test("the license shapes of the sample policies in policies/ pass the default rules")
    func samplePolicies() async throws {
        let e3Off = [Fixture.plan("YAMMER_ENTERPRISE", of: "SPE_E3"), Fixture.plan("KAIZALA_O365_P3", of: "SPE_E3")]
        let e1Allowed: Set = ["EXCHANGE_S_STANDARD", "TEAMS1", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "FORMS_PLAN_E1"]
        let e1Off = SampleTenant.sku("STANDARDPACK").servicePlans.filter { !e1Allowed.contains($0.name) }.map(\.id)
        try await Harness.run(tenant: Fixture.tenant(users: 3)) { harness in
            let token = try await harness.token()
            let calls = [
                (
                    "user0",
                    Self.body(add: [
                        (Fixture.e3, e3Off), (Fixture.project, []), (Fixture.visio, []), (Fixture.powerBI, []),
                    ])
                ),
                ("user1", Self.body(add: [(Fixture.e5, [Self.plan("YAMMER_ENTERPRISE")])])),
                ("user2", Self.body(add: [(Fixture.e1, e1Off)])),
            ]
            for (user, body) in calls {
                let reply = try await harness.graph(
                    .POST,
                    "/users/\(user)@contoso.com/assignLicense",
                    token: token,
                    json: body
                )
                #expect(reply.status == 200, "\(user): \(reply.errorMessage ?? "")")
            }
        }
    }

    @Test(
        "the real service's validation errors",
        arguments: [
            (
                "missing removeLicenses", "user0", #"{"addLicenses":[]}"#, 400, "Request_BadRequest",
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: removeLicenses."
            ),
            (
                "missing addLicenses", "user0", #"{"removeLicenses":[]}"#, 400, "Request_BadRequest",
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: addLicenses."
            ),
            (
                "no usage location", "user4", body(add: [(Fixture.powerBI, [])]), 400, "Request_BadRequest",
                "License assignment cannot be done for user with invalid usage location."
            ),
            (
                "SKU the tenant does not own", "user0",
                body(add: [(GUID("6fd2c87f-b296-42f0-b197-1e91e994b900")!, [])]), 400, "Request_BadRequest",
                "License 6fd2c87f-b296-42f0-b197-1e91e994b900 does not correspond to a valid company License."
            ),
            (
                "inherited-only removal", "user2", body(remove: [Fixture.e3]), 400, "Request_BadRequest",
                "User license is inherited from a group membership and it cannot be removed directly from the user."
            ),
            (
                "removing a SKU not held", "user0", body(remove: [Fixture.visio]), 400, "Request_BadRequest",
                "User does not have a corresponding license."
            ),
            (
                "unknown disabled plan", "user0",
                body(add: [(Fixture.powerBI, [Fixture.plan("YAMMER_ENTERPRISE", of: "SPE_E3")])]), 400,
                "Request_BadRequest",
                "Service plan 7547a3fe-08ee-4ccb-b430-5077c5041653 does not belong to license f8a1db68-be16-40ed-86d5-cb42ce701560."
            ),
            (
                "no changes", "user0", body(), 400, "Request_BadRequest",
                "No license changes provided. At least one license to add or remove must be specified."
            ),
            (
                "unknown user", "ghost", body(add: [(Fixture.powerBI, [])]), 404, "Request_ResourceNotFound",
                "Resource 'ghost@contoso.com' does not exist or one of its queried reference-property objects are not present."
            ),
        ]
    )
    func validationErrors(
        _ name: String,
        _ user: String,
        _ body: String,
        _ status: Int,
        _ code: String,
        _ message: String
    ) async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token()
            let before = harness.simulator.currentTenant()
            let reply = try await harness.graph(
                .POST,
                "/users/\(user)@contoso.com/assignLicense",
                token: token,
                json: body
            )
            #expect(reply.status == status, "\(name)")
            #expect(reply.errorCode == code, "\(name)")
            #expect(reply.errorMessage == message, "\(name)")
            #expect(reply["error", "innerError", "date"] != nil)
            #expect(reply["error", "innerError", "client-request-id"] != nil)
            #expect(harness.simulator.currentTenant() == before, "a failed call changes nothing")
        }
    }

    @Test("no seat left: 400 naming the SKU; a re-add of a held SKU needs no seat")
    func noSeats() async throws {
        try await Harness.run(tenant: Self.tenant(seats: 3)) { harness in
            let token = try await harness.token()
            let full = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(full.status == 400)
            #expect(full.errorMessage == "Subscription with SKU \(Fixture.e3) does not have any available licenses.")
            let planChange = try await harness.graph(
                .POST,
                "/users/user1@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [Fixture.plan("YAMMER_ENTERPRISE", of: "SPE_E3")])])
            )
            #expect(planChange.status == 200)
            let freed = try await harness.graph(
                .POST,
                "/users/user1@contoso.com/assignLicense",
                token: token,
                json: Self.body(remove: [Fixture.e3])
            )
            #expect(freed.status == 200)
            let now = try await harness.graph(
                .POST,
                "/users/user0@contoso.com/assignLicense",
                token: token,
                json: Self.body(add: [(Fixture.e3, [])])
            )
            #expect(now.status == 200)
        }
    }
}
