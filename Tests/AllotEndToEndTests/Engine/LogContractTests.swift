import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Testing

/// The structured log lines of `allot apply` as alerting reads them.
@Suite("End to end: log events")
struct LogContractTests {
    @Test("license.failed carries Graph's status, code and message; the user is retried later; no secret in any line")
    func graphRefusal() async throws {
        // A user who lost E3 and whose usage location Graph does not accept ("Z9"): the planner
        // sees a usage location and cannot know, Graph refuses the call.
        var refusedUser: DirectoryUser?
        let scenario = try await Scenario("refusal", users: 300, seed: 51, drift: 5) { tenant in
            let index = tenant.users.firstIndex { user in
                TestTenant.holdsDirectly(user, "SPE_E3") && !TestTenant.holdsThroughGroup(user, "SPE_E3")
                    && !TestTenant.holdsDirectly(user, "POWER_BI_PRO")
            }!
            let states = (tenant.users[index].licenseAssignmentStates ?? []).filter {
                $0.isDirect && $0.skuId != TestTenant.sku("SPE_E3")
            }
            TestTenant.setDirect(states, of: index, in: &tenant)
            tenant.users[index].usageLocation = "Z9"
            TestTenant.recountConsumedUnits(&tenant)
            refusedUser = tenant.users[index]
        }
        let user = try #require(refusedUser)
        #expect(scenario.plan.changes.first { $0.userId == user.id }?.adds.map(\.sku) == ["SPE_E3"])

        let result = try await scenario.workspace.apply()
        #expect(result.status == 3, "\(result.summary)")
        let failures = result.events("license.failed")
        #expect(failures.count == 1)
        let failure = try #require(failures.first)
        #expect(failure["level"] == "error")
        #expect(failure["user.id"] == .string(user.id.description))
        #expect(failure["user.upn"] == .string(user.userPrincipalName))
        #expect(failure["graph.status"] == .number(400))
        #expect(failure["graph.code"] == "Request_BadRequest")
        #expect(failure["kind"] == "usageLocation")
        #expect(failure["graph.message"]?.stringValue?.contains("invalid usage location") == true, "\(failure)")
        #expect(failure["client_request_id"]?.stringValue?.isEmpty == false)
        #expect(result.count("failed.adds") == 1)
        #expect(result.count("applied.adds") == scenario.plan.summary.adds - 1)

        // The user is remembered with a backoff (the daemon waits it out; apply retries at once).
        guard case let .array(entries)? = try scenario.workspace.stateDocument()["failures"] else {
            throw HarnessError("no failures in state.json")
        }
        #expect(
            entries.contains { entry in
                guard case let .object(fields) = entry else { return false }
                return fields["user"] == .string(user.id.description) && fields["lastError"] == "Request_BadRequest"
            }
        )
        let retried = try await scenario.workspace.apply()
        #expect(retried.events("license.failed").count == 1, "apply retries the user: \(retried.summary)")
    }

    @Test("at debug level too, no line carries the client secret or a token")
    func noSecretsAtDebug() async throws {
        var settings = Workspace.Settings()
        settings.logLevel = "trace"
        let scenario = try await Scenario("secrets", users: 300, seed: 52, drift: 10, settings: settings)
        let result = try await scenario.workspace.run(["apply"])
        #expect(result.status == scenario.convergedStatus, "\(result.summary)")
        #expect(result.standardOutput.contains("graph.request"), "debug lines were written")
        for (stream, text) in [("stdout", result.standardOutput), ("stderr", result.standardError)] {
            #expect(!text.contains(SimulatorProcess.clientSecret), "the client secret appears on \(stream)")
            #expect(!text.contains("eyJ"), "a token appears on \(stream)")
            #expect(!text.localizedCaseInsensitiveContains("bearer "), "an Authorization header appears on \(stream)")
        }
    }
}
