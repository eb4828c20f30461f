import AllotTestSupport
import AllotCore
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The group shrink hold end to end: `allot apply` against the simulator, the tenant changed
/// between cycles by serving a modified snapshot on the same port.
@Suite("End to end: group shrink hold")
struct GroupShrinkTests {
    static let project = TestTenant.sku("PROJECTPROFESSIONAL")

    /// A converged tenant whose PMO group has `pmoSize` members, all holding Project directly
    /// (the sample policy `pmo-project` grants it to PMO).
    static func convergedScenario(
        _ label: String,
        pmoSize: Int = 14,
        settings: Workspace.Settings = Workspace.Settings()
    ) async throws -> Scenario {
        let scenario = try await Scenario(label, users: 300, seed: 61, drift: 0, settings: settings) { tenant in
            let pmo = tenant.groups.firstIndex { $0.displayName == SampleTenant.GroupName.pmo }!
            // Not frontline workers: their E1 and Project are refused together as a policy conflict.
            let others = Set(
                [SampleTenant.GroupName.licenseExempt, SampleTenant.GroupName.frontlineWorkers].flatMap { name in
                    tenant.groups.first { $0.displayName == name }?.members ?? []
                }
            )
            var members = tenant.groups[pmo].members.filter { !others.contains($0) }
            for user in tenant.users
            where members.count < pmoSize && !members.contains(user.id) && !others.contains(user.id) {
                members.append(user.id)
            }
            tenant.groups[pmo].members = Array(members.prefix(pmoSize))
            TestTenant.addSeats(pmoSize, to: "PROJECTPROFESSIONAL", in: &tenant)
        }
        scenario.expectComplete(try await scenario.workspace.apply())
        let tenant = try await scenario.simulator.tenant()
        let pmo = try #require(tenant.groups.first { $0.displayName == SampleTenant.GroupName.pmo })
        let holders = tenant.users.filter {
            pmo.members.contains($0.id) && TestTenant.holdsDirectly($0, "PROJECTPROFESSIONAL")
        }
        #expect(holders.count == pmoSize, "every PMO member holds Project directly")
        return scenario
    }

    /// Serves the tenant as it is now, with `group`'s members cut down to `keep`, on the same port.
    static func shrink(_ group: String, to keep: Int, in scenario: Scenario) async throws -> [GUID] {
        var tenant = try await scenario.simulator.tenant()
        let index = try #require(tenant.groups.firstIndex { $0.displayName == group })
        let lost = Array(tenant.groups[index].members.dropFirst(keep))
        tenant.groups[index].members = Array(tenant.groups[index].members.prefix(keep))
        let file = scenario.workspace.directory + "/tenant-shrunk.json"
        let encoder = JSONEncoder()
        try encoder.encode(tenant).write(to: URL(fileURLWithPath: file))
        scenario.simulator.stop()
        scenario.simulator = try await SimulatorProcess(
            tenantFile: file,
            port: scenario.simulator.port,
            workspace: scenario.workspace.directory,
            name: "simulator-shrunk"
        )
        return lost
    }

    /// The Project removals the simulator was sent.
    static func projectRemovals(_ scenario: Scenario) async throws -> Int {
        try await scenario.simulator.requests().batchItems.filter {
            TenantExpectations.removedSkus($0).contains(project)
        }.count
    }

    /// The PMO entry of `state.json`'s `groups`.
    static func pmoState(_ scenario: Scenario) throws -> [String: JSONValue] {
        let pmo = try #require(scenario.initial.groups.first { $0.displayName == SampleTenant.GroupName.pmo }).id
        guard case let .array(groups)? = try scenario.workspace.stateDocument()["groups"] else {
            throw HarnessError("no groups in state.json")
        }
        for case let .object(entry) in groups where entry["group"] == .string(pmo.description) { return entry }
        throw HarnessError("no PMO in state.json: \(groups)")
    }

    @Test(
        "a group of 14 emptied: cycle 1 holds the removals and reports group.shrunk; cycle 2, reading zero again, removes"
    )
    func emptiedGroup() async throws {
        let scenario = try await Self.convergedScenario("shrink")
        #expect(try Self.pmoState(scenario)["users"] == .number(14), "the first cycle took the baseline")
        let lost = try await Self.shrink(SampleTenant.GroupName.pmo, to: 0, in: scenario)
        #expect(lost.count == 14)

        // `allot plan` shows the hold (exit 2: removals pending) and saves nothing.
        let stateBefore = try Data(contentsOf: URL(fileURLWithPath: scenario.workspace.statePath))
        let planned = try await scenario.replan()
        #expect(planned.heldRemovals.count == 14 && planned.summary.heldRemovals == 14)
        #expect(Set(planned.heldRemovals.map(\.userId)) == Set(lost))
        #expect(planned.heldRemovals.allSatisfy { $0.sku == "PROJECTPROFESSIONAL" && $0.policies == ["pmo-project"] })
        #expect(planned.summary.removals == 0)
        #expect(try await scenario.workspace.run(["plan"]).status == 2)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: scenario.workspace.statePath)) == stateBefore,
            "plan wrote the state file"
        )

        try await scenario.simulator.clearRequests()
        let held = try await scenario.workspace.apply()
        #expect(held.status == 3, "removals are pending: \(held.summary)")
        let event = try #require(held.events("group.shrunk").first)
        #expect(event["level"] == "warning")
        #expect(event["group.name"] == .string(SampleTenant.GroupName.pmo))
        #expect(
            event["users_before"] == .number(14) && event["users_now"] == .number(0)
                && event["cycles_seen"] == .number(1)
        )
        #expect(event["held"] == .bool(true) && event["overridden"] == .bool(false))
        #expect(held.finished["result"] == "not_converged")
        #expect(try await Self.projectRemovals(scenario) == 0, "a held removal was sent")
        let state = try Self.pmoState(scenario)
        #expect(state["users"] == .number(0))
        #expect(state["shrink"] == .object(["usersBefore": .number(14), "cyclesSeen": .number(1)]))

        try await scenario.simulator.clearRequests()
        let released = try await scenario.workspace.apply()
        #expect(released.status == scenario.convergedStatus, "\(released.summary)")
        let confirmed = try #require(released.events("group.shrunk").first)
        #expect(confirmed["cycles_seen"] == .number(2) && confirmed["held"] == .bool(false))
        #expect(released.count("applied.removals") == 14)
        #expect(try await Self.projectRemovals(scenario) == 14)
        #expect(
            try Self.pmoState(scenario) == [
                "group": .string(scenario.initial.groups.first { $0.displayName == "PMO" }!.id.description),
                "users": .number(0),
            ]
        )

        try await scenario.simulator.clearRequests()
        let quiet = try await scenario.workspace.apply()
        #expect(quiet.status == scenario.convergedStatus && quiet.events("group.shrunk").isEmpty, "\(quiet.summary)")
        #expect(try await scenario.simulator.requests().writes.isEmpty)
    }

    @Test("--allow-mass-removal releases a shrink at once and takes the smaller count as the baseline")
    func overridden() async throws {
        let scenario = try await Self.convergedScenario("shrink-override")
        _ = try await Self.shrink(SampleTenant.GroupName.pmo, to: 3, in: scenario)
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply(["--allow-mass-removal"])
        #expect(result.status == scenario.convergedStatus, "\(result.summary)")
        let event = try #require(result.events("group.shrunk").first)
        #expect(event["users_now"] == .number(3) && event["held"] == .bool(false) && event["overridden"] == .bool(true))
        #expect(try await Self.projectRemovals(scenario) == 11)
        #expect(try Self.pmoState(scenario)["users"] == .number(3))
        #expect(try Self.pmoState(scenario)["shrink"] == nil)
    }

    @Test("a group under 10 users shrinking is not held: its removals go in the same cycle")
    func smallGroup() async throws {
        let scenario = try await Self.convergedScenario("shrink-small", pmoSize: 6)
        _ = try await Self.shrink(SampleTenant.GroupName.pmo, to: 2, in: scenario)
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply()
        #expect(result.status == scenario.convergedStatus, "\(result.summary)")
        #expect(result.events("group.shrunk").isEmpty)
        #expect(try await Self.projectRemovals(scenario) == 4)
        #expect(try Self.pmoState(scenario)["users"] == .number(2))
    }

    @Test("a state file without group counts (version 1) holds nothing: the first cycle takes the baseline")
    func oldStateFile() async throws {
        let scenario = try await Self.convergedScenario("shrink-oldstate")
        try Data(#"{"version": 1, "pendingRemovals": [], "failures": []}"#.utf8).write(
            to: URL(fileURLWithPath: scenario.workspace.statePath)
        )
        _ = try await Self.shrink(SampleTenant.GroupName.pmo, to: 0, in: scenario)
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply()
        #expect(
            result.status == scenario.convergedStatus && result.events("state.recovered").isEmpty,
            "\(result.summary)"
        )
        #expect(result.events("group.shrunk").isEmpty, "no baseline, no hold")
        #expect(try await Self.projectRemovals(scenario) == 14)
        #expect(try scenario.workspace.stateDocument()["version"] == .number(2))
        #expect(try Self.pmoState(scenario)["users"] == .number(0))
    }

    @Test(
        "a member removed from a group a moment ago is gone from the very next read, however far the advanced-query index lags"
    )
    func membershipReadIsConsistent() async throws {
        let scenario = try await Self.convergedScenario("shrink-consistency")
        let tenant = try await scenario.simulator.tenant()
        let file = scenario.workspace.directory + "/tenant-lagging.json"
        try JSONEncoder().encode(tenant).write(to: URL(fileURLWithPath: file))
        scenario.simulator.stop()
        let roles =
            "User.Read.All,GroupMember.Read.All,GroupMember.ReadWrite.All,Organization.Read.All,LicenseAssignment.ReadWrite.All,User.ReadWrite.All"
        scenario.simulator = try await SimulatorProcess(
            tenantFile: file,
            port: scenario.simulator.port,
            workspace: scenario.workspace.directory,
            name: "simulator-lagging",
            extraArguments: ["--consistency-lag", "1h", "--app-roles", roles]
        )
        let pmo = try #require(tenant.groups.first { $0.displayName == SampleTenant.GroupName.pmo })
        let leaver = try #require(pmo.members.first)

        let token = try await Self.accessToken(scenario.simulator.baseURL)
        var request = HTTPClientRequest(
            url: "\(scenario.simulator.baseURL)/v1.0/groups/\(pmo.id)/members/\(leaver)/$ref"
        )
        request.method = .DELETE
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status.code == 204)

        // 14 to 13 is no shrink: the leaver's Project goes at once, read from the consistent listing.
        let plan = try await scenario.replan()
        let change = try #require(
            plan.changes.first { $0.userId == leaver },
            "the removal was not seen: the read lagged"
        )
        #expect(change.removals.map(\.sku) == ["PROJECTPROFESSIONAL"])
        #expect(plan.heldRemovals.isEmpty)
    }

    /// A token for the registered application, from the simulator's token endpoint.
    static func accessToken(_ baseURL: String) async throws -> String {
        var request = HTTPClientRequest(url: "\(baseURL)/\(SampleTenantIds.tenantId)/oauth2/v2.0/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let form = [
            ("grant_type", "client_credentials"), ("client_id", SimulatorProcess.clientId),
            ("client_secret", SimulatorProcess.clientSecret),
            ("scope", "https://graph.microsoft.com/.default"),
        ].map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }.joined(
            separator: "&"
        )
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard case let .object(fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)),
            case let .string(token)? = fields["access_token"]
        else { throw HarnessError("no access token: HTTP \(response.status.code)") }
        return token
    }
}
