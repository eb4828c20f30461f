import AllotCore
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Sign-in activity and lifecycle dates: permissions, Entra ID P1, page size, the generator")
struct SignInActivityTests {
    static let reader: Set<String> = ["User.Read.All", "AuditLog.Read.All"]
    static let reference = Date(timeIntervalSince1970: 1_796_601_600)  // 2026-12-07T00:00:00Z

    static func tenant() -> Snapshot {
        var tenant = Fixture.tenant(users: 3)
        tenant.users[0].properties["signInActivity"] = SimulatedSignInActivity(
            lastSignInDateTime: Date(timeIntervalSince1970: 1_785_000_000),
            lastSuccessfulSignInDateTime: Date(timeIntervalSince1970: 1_785_000_000)
        ).graphValue { _ in "req-0" }
        tenant.users[0].properties["createdDateTime"] = .string("2024-01-15T08:00:00Z")
        tenant.users[0].properties["employeeLeaveDateTime"] = .string("2026-11-30T00:00:00Z")
        return tenant
    }

    @Test(
        "$select=signInActivity needs AuditLog.Read.All, then a P1 tenant; only on $select; $top above 500 is refused"
    )
    func access() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let select = "/users?$select=id,signInActivity"
            let withoutRole = try await harness.graph(
                .GET,
                select,
                token: try await harness.token(roles: ["User.Read.All"])
            )
            #expect(withoutRole.status == 403)
            #expect(withoutRole.errorCode == "Authentication_MSGraphPermissionMissing")
            #expect(
                withoutRole.errorMessage
                    == "Calling principal does not have required MSGraph permissions AuditLog.Read.All"
            )
            let filtered = try await harness.graph(
                .GET,
                "/users?$filter=signInActivity/lastSignInDateTime%20le%202026-01-01T00:00:00Z",
                token: try await harness.token(roles: ["User.Read.All"])
            )
            #expect(filtered.status == 403, "filtering on it needs the role too")

            let token = try await harness.token(roles: Self.reader)
            let reply = try await harness.graph(.GET, select, token: token)
            #expect(reply.status == 200)
            #expect(reply.values[0]["signInActivity"]?["lastSignInDateTime"] == .string("2026-07-25T17:20:00Z"))
            #expect(reply.values[0]["signInActivity"]?["lastSignInRequestId"] == .string("req-0"))
            #expect(reply.values[0]["signInActivity"]?["lastNonInteractiveSignInDateTime"] == .null)
            #expect(reply.values[1]["signInActivity"] == .null, "never signed in")
            let byDefault = try await harness.graph(.GET, "/users?$select=*", token: token)
            #expect(byDefault.values[0]["signInActivity"] == nil, "returned only when named")
            let single = try await harness.graph(.GET, "/users/user0@contoso.com?$select=signInActivity", token: token)
            #expect(single["signInActivity"]?["lastSuccessfulSignInDateTime"] == .string("2026-07-25T17:20:00Z"))

            #expect(try await harness.graph(.GET, select + "&$top=500", token: token).status == 200)
            let tooMany = try await harness.graph(.GET, select + "&$top=501", token: token)
            #expect(tooMany.status == 400)
            #expect(tooMany["value"] == .string("Cannot query data for more than 500 users at a time."))
            #expect(
                try await harness.graph(.GET, "/users?$select=id&$top=999", token: token).status == 200,
                "the limit is for sign-in activity only"
            )

            harness.simulator.setEntraIDPremium(false)
            let noPremium = try await harness.graph(.GET, select, token: token)
            #expect(noPremium.status == 403)
            #expect(noPremium.errorCode == "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
            #expect(noPremium.errorMessage == "Neither tenant is B2C or tenant doesn't have premium license")
            #expect(try await harness.send(.PUT, "/_simulator/entraIDPremium", body: Array("true".utf8)).status == 204)
            #expect(try await harness.graph(.GET, select, token: token).status == 200)
        }
    }

    @Test("employeeLeaveDateTime reads as null without User-LifeCycleInfo.Read.All; dates come as Graph writes them")
    func lifecycleProperties() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let path = "/users/user0@contoso.com?$select=createdDateTime,employeeHireDate,employeeLeaveDateTime"
            let plain = try await harness.graph(.GET, path, token: try await harness.token(roles: ["User.Read.All"]))
            #expect(plain["createdDateTime"] == .string("2024-01-15T08:00:00Z"))
            #expect(plain["employeeHireDate"] == .null)
            #expect(plain["employeeLeaveDateTime"] == .null)
            let lifecycle = try await harness.graph(
                .GET,
                path,
                token: try await harness.token(roles: ["User.Read.All", "User-LifeCycleInfo.Read.All"])
            )
            #expect(lifecycle["employeeLeaveDateTime"] == .string("2026-11-30T00:00:00Z"))

            let writer = try await harness.token(roles: ["User.ReadWrite.All"])
            let hire = try await harness.graph(
                .PATCH,
                "/users/user1@contoso.com",
                token: writer,
                json: #"{"employeeHireDate":"2027-01-04T09:00:00+01:00"}"#
            )
            #expect(hire.status == 204)
            let read = try await harness.graph(.GET, "/users/user1@contoso.com?$select=employeeHireDate", token: writer)
            #expect(read["employeeHireDate"] == .string("2027-01-04T08:00:00Z"))
            #expect(
                try await harness.graph(
                    .PATCH,
                    "/users/user1@contoso.com",
                    token: writer,
                    json: #"{"employeeHireDate":"soon"}"#
                ).status == 400
            )
            let leave = #"{"employeeLeaveDateTime":"2027-01-31T00:00:00Z"}"#
            #expect(
                try await harness.graph(.PATCH, "/users/user1@contoso.com", token: writer, json: leave).status == 403
            )
            let lifecycleWriter = try await harness.token(roles: [
                "User.ReadWrite.All", "User-LifeCycleInfo.ReadWrite.All",
            ])
            #expect(
                try await harness.graph(.PATCH, "/users/user1@contoso.com", token: lifecycleWriter, json: leave).status
                    == 204
            )
        }
    }

    @Test("tests set sign-in activity (method and control API); users delta does not report it")
    func settingActivity() async throws {
        try await Harness.run(tenant: Self.tenant()) { harness in
            let token = try await harness.token(roles: Self.reader.union(["User.ReadWrite.All"]))
            let first = try await UsersDeltaTests.round(
                harness,
                "/users/delta?$select=displayName,signInActivity",
                token: token
            )
            let seen = Date(timeIntervalSince1970: 1_796_500_000)
            try harness.simulator.setSignInActivity(
                SimulatedSignInActivity(lastNonInteractiveSignInDateTime: seen),
                forUser: Fixture.userId(1)
            )
            let controlled = try await harness.send(
                .PUT,
                "/_simulator/users/\(Fixture.userId(2))/signInActivity",
                body: Array(
                    #"{"lastSignInDateTime":"2026-01-02T03:04:05Z","lastSuccessfulSignInDateTime":"2026-01-02T03:04:05Z"}"#
                        .utf8
                )
            )
            #expect(controlled.status == 204)
            #expect(
                try await harness.send(
                    .PUT,
                    "/_simulator/users/\(Fixture.userId(2))/signInActivity",
                    body: Array(#"{"lastSignInDateTime":"later"}"#.utf8)
                ).status == 400
            )
            let reply = try await harness.graph(.GET, "/users?$select=id,signInActivity", token: token)
            #expect(
                reply.values[1]["signInActivity"]?["lastNonInteractiveSignInDateTime"]
                    == .string("2026-12-05T19:46:40Z")
            )
            #expect(
                reply.values[1]["signInActivity"]?["lastNonInteractiveSignInRequestId"]?.stringValue?.isEmpty == false
            )
            #expect(reply.values[2]["signInActivity"]?["lastSignInDateTime"] == .string("2026-01-02T03:04:05Z"))
            #expect(try await UsersDeltaTests.round(harness, first.deltaLink, token: token).values.isEmpty)
            try harness.simulator.setSignInActivity(nil, forUser: Fixture.userId(2))
            #expect(
                try await harness.graph(.GET, "/users/\(Fixture.userId(2))?$select=signInActivity", token: token)[
                    "signInActivity"
                ] == .null
            )
        }
    }

    @Test(
        "the generator adds lifecycle dates only when asked: default tenants stay byte for byte the same, the rest of the tenant too"
    )
    func generatorOnlyWhenAsked() throws {
        let plain = TenantGenerator(users: 600, seed: 9).generate()
        let dated = TenantGenerator(users: 600, seed: 9, lifecycleDatesAsOf: Self.reference).generate()
        let lifecycle: Set<String> = ["createdDateTime", "employeeHireDate", "employeeLeaveDateTime", "signInActivity"]
        #expect(plain.users.allSatisfy { Set($0.properties.keys).isDisjoint(with: lifecycle) })
        var stripped = dated
        for index in stripped.users.indices { for name in lifecycle { stripped.users[index].properties[name] = nil } }
        #expect(stripped == plain)
        #expect(
            TenantGenerator(users: 600, seed: 9, lifecycleDatesAsOf: Self.reference).generate() == dated,
            "deterministic"
        )
        #expect(dated.users.allSatisfy { $0.properties["createdDateTime"] != nil })
    }

    @Test(
        "the generated mix: never signed in, non-interactive only, inactive 30/60/90+ days, joiners ahead, leavers behind"
    )
    func generatedMix() throws {
        let tenant = TenantGenerator(users: 5000, seed: 42, lifecycleDatesAsOf: Self.reference).generate()
        let now = Self.reference.timeIntervalSince1970
        func date(_ value: JSONValue?) -> Double? { value?.stringValue.flatMap(UTCTime.epochSeconds(parsing:)) }
        func daysSince(_ user: DirectoryUser) -> Double? {
            let activity = user.properties["signInActivity"]
            let dates = [activity?["lastSignInDateTime"], activity?["lastNonInteractiveSignInDateTime"]].compactMap(
                date
            ).filter { $0 > 0 }
            return dates.max().map { (now - $0) / 86_400 }
        }
        let users = tenant.users
        let never = users.filter { $0.properties["signInActivity"] == .null }
        let nonInteractiveOnly = users.filter {
            $0.properties["signInActivity"]?["lastSignInDateTime"] == .null
                && date($0.properties["signInActivity"]?["lastNonInteractiveSignInDateTime"]) != nil
        }
        let inactive = users.compactMap(daysSince)
        let joiners = users.filter { (date($0.properties["employeeHireDate"]) ?? 0) > now }
        let leavers = users.filter { (date($0.properties["employeeLeaveDateTime"]) ?? .infinity) < now }
        let share = { (count: Int) in Double(count) / Double(users.count) }
        #expect((0.03...0.12).contains(share(never.count)), "\(never.count) never signed in")
        #expect(
            (0.04...0.10).contains(share(nonInteractiveOnly.count)),
            "\(nonInteractiveOnly.count) non-interactive only"
        )
        #expect(inactive.filter { (30..<60).contains($0) }.count > users.count / 30)
        #expect(inactive.filter { (60..<90).contains($0) }.count > users.count / 50)
        #expect(inactive.filter { $0 >= 90 }.count > users.count / 30)
        #expect((0.005...0.02).contains(share(joiners.count)), "\(joiners.count) joiners")
        #expect(joiners.allSatisfy { $0.properties["signInActivity"] == .null })
        #expect((0.01...0.03).contains(share(leavers.count)), "\(leavers.count) leavers")
        let created = users.compactMap { date($0.properties["createdDateTime"]) }
        #expect(created.count == users.count && created.allSatisfy { $0 < now })
        let placeholders = users.filter {
            $0.properties["signInActivity"]?["lastNonInteractiveSignInDateTime"] == .string("0001-01-01T00:00:00Z")
        }
        #expect(!placeholders.isEmpty, "some users carry the placeholder of Microsoft's example")
        let oldSuccess = users.filter {
            (0..<1_701_388_800).contains(date($0.properties["signInActivity"]?["lastSignInDateTime"]) ?? -1)
                && $0.properties["signInActivity"]?["lastSuccessfulSignInDateTime"] != .null
                && $0.properties["signInActivity"]?["lastSuccessfulSignInDateTime"] != .string("")
        }
        #expect(oldSuccess.isEmpty, "no successful sign-in before December 2023 (not backfilled)")
    }
}
