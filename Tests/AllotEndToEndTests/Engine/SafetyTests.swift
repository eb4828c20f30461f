import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Testing

/// The rules that keep a cycle from doing harm, end to end: fail closed, the removal guard,
/// report mode and the removal delay.
@Suite("End to end: safety")
struct SafetyTests {
    @Test("a group read that fails removes nothing from anyone: the cycle writes nothing and exits 1")
    func groupReadFails() async throws {
        let scenario = try await Scenario("groupfail", seed: 44, drift: 10)
        #expect(scenario.plan.summary.removals > 0, "the tenant has removals that a wrong group read could multiply")
        try await scenario.simulator.addFault(SimulatedFault(kind: .failPage, path: "/transitiveMembers", count: -1))
        try await expectFailsClosed(scenario, naming: "/transitiveMembers")
    }

    @Test("a policy naming a group that does not exist removes nothing from anyone")
    func unknownGroup() async throws {
        let scenario = try await Scenario("ghost", seed: 45, drift: 10)
        #expect(scenario.plan.summary.removals > 0)
        try scenario.workspace.writePolicy(
            "ghost.yaml",
            """
            name: ghost-team-visio
            match:
              groups: [Ghost Team]
            licenses:
              - sku: VISIOCLIENT
            """
        )
        try await expectFailsClosed(scenario, naming: "Ghost Team")
        let plan = try await scenario.workspace.run(["plan"])
        #expect(
            plan.status == 1 && plan.standardError.contains("Ghost Team"),
            "plan fails the same way: \(plan.summary)"
        )
    }

    /// An apply exits 1 with `cycle.failed` naming what failed, writes nothing, and leaves the tenant as it was.
    private func expectFailsClosed(
        _ scenario: Scenario,
        naming cause: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply(sourceLocation: sourceLocation)
        #expect(result.status == 1, "\(result.summary)", sourceLocation: sourceLocation)
        let error = result.events("cycle.failed").first?["error"]?.stringValue ?? ""
        #expect(error.contains(cause), "cycle.failed names \(cause): \(error)", sourceLocation: sourceLocation)
        let writes = try await scenario.simulator.requests().writes
        #expect(writes.isEmpty, "writes: \(writes.prefix(3).map(\.path))", sourceLocation: sourceLocation)
        let tenant = try await scenario.simulator.tenant()
        #expect(
            TenantExpectations.directState(tenant) == TenantExpectations.directState(scenario.initial),
            sourceLocation: sourceLocation
        )
    }

    @Test(
        "a policy edit that would remove 30% of licenses trips the guard; adds still go; --allow-mass-removal lets it through once"
    )
    func massRemovalGuard() async throws {
        var settings = Workspace.Settings()
        settings.maxRemovals = 50
        settings.maxRemovalPercent = 5
        let scenario = try await Scenario("guard", seed: 41, drift: 3, settings: settings) { tenant in
            TestTenant.addSeats(100, to: "VISIOCLIENT", in: &tenant)
        }
        #expect(!scenario.plan.guardrail.tripped)
        scenario.expectComplete(try await scenario.workspace.apply())

        // The edit: E3 no longer for four departments (removals), Visio for HR (adds).
        let baseline = try String(contentsOfFile: scenario.workspace.policiesPath + "/baseline.yaml", encoding: .utf8)
        try scenario.workspace.writePolicy(
            "baseline.yaml",
            baseline.replacingOccurrences(
                of: "    userType: Member\n",
                with: "    userType: Member\n    department: { notIn: [Sales, Support, Marketing, Legal] }\n"
            )
        )
        try scenario.workspace.writePolicy(
            "hr-visio.yaml",
            """
            name: hr-visio
            match:
              groups: [Department - HR]
            licenses:
              - sku: VISIOCLIENT
            """
        )
        let before = try await scenario.simulator.tenant()
        let edited = try await scenario.replan()
        let guardrail = edited.guardrail
        #expect(guardrail.tripped && !guardrail.overridden)
        let share = Double(guardrail.removals) / Double(guardrail.managedLicensesAssigned)
        #expect(
            share > 0.25 && share < 0.4,
            "the edit removes about 30% of the managed licenses: \(guardrail.removals) of \(guardrail.managedLicensesAssigned)"
        )
        #expect(
            edited.changes.allSatisfy { $0.removals.isEmpty && ($0.assignLicense?.removeLicenses ?? []).isEmpty },
            "a tripped plan removes nothing"
        )
        let visioAdds = edited.changes.filter { $0.adds.contains { $0.sku == "VISIOCLIENT" } }
        #expect(!visioAdds.isEmpty)

        try await scenario.simulator.clearRequests()
        let tripped = try await scenario.workspace.apply()
        #expect(tripped.status == 3, "\(tripped.summary)")
        let event = try #require(tripped.events("guard.tripped").first)
        #expect(event["level"] == "critical")
        #expect(event["removals"] == .number(Double(guardrail.removals)))
        #expect(event["overridden"] == .bool(false))
        #expect(tripped.finished["guard.tripped"] == .bool(true))
        let trippedLog = try await scenario.simulator.requests()
        #expect(!trippedLog.batchItems.contains { !TenantExpectations.removedSkus($0).isEmpty }, "a removal was sent")
        TenantExpectations.expectConverged(try await scenario.simulator.tenant(), initial: before, plan: edited)

        // Still tripped on the next cycle: the guard holds until the policies change or an operator overrides it.
        try await scenario.simulator.clearRequests()
        let held = try await scenario.workspace.apply()
        #expect(held.status == 3 && held.events("guard.tripped").count == 1, "\(held.summary)")
        #expect(try await scenario.simulator.requests().writes.isEmpty)

        let afterAdds = try await scenario.simulator.tenant()
        try await scenario.simulator.clearRequests()
        let overridden = try await scenario.workspace.apply(["--allow-mass-removal"])
        #expect(overridden.status == scenario.convergedStatus, "\(overridden.summary)")
        #expect(overridden.events("guard.tripped").first?["overridden"] == .bool(true))
        #expect(overridden.count("applied.removals") == guardrail.removals)
        let removed = try await scenario.simulator.requests().batchItems.reduce(0) {
            $0 + TenantExpectations.removedSkus($1).count
        }
        #expect(removed == guardrail.removals)
        let final = TenantExpectations.directState(try await scenario.simulator.tenant())
        let e3 = TestTenant.sku("SPE_E3")
        let removedDepartments: Set<String> = ["Sales", "Support", "Marketing", "Legal"]
        for user in afterAdds.users where TestTenant.holdsDirectly(user, "SPE_E3") {
            let department = user.properties["department"]?.stringValue ?? ""
            #expect(
                (final[user.id]?.licenses[e3] == nil) == removedDepartments.contains(department),
                "\(user.userPrincipalName) (\(department))"
            )
        }

        // Once: the next cycle has nothing left to remove, and the guard is quiet again.
        try await scenario.simulator.clearRequests()
        let after = try await scenario.workspace.apply()
        #expect(after.status == scenario.convergedStatus && after.events("guard.tripped").isEmpty, "\(after.summary)")
        #expect(try await scenario.simulator.requests().writes.isEmpty)
    }

    @Test("a call that should free a seat fails: the add that needed the seat is not sent, and is reported")
    func seatNotFreed() async throws {
        // No seat of POWER_BI_PRO is free; the break-glass account holds one it should not, so the
        // plan serves one of three pending adds with the seat its removal frees.
        var breakGlass: DirectoryUser?
        var settings = Workspace.Settings()
        settings.usageLocationDefault = nil
        let scenario = try await Scenario("seats", users: 300, seed: 47, drift: 0, settings: settings) { tenant in
            let powerBI = TestTenant.sku("POWER_BI_PRO")
            var stripped = 0
            for index in tenant.users.indices
            where stripped < 3 && TestTenant.holdsDirectly(tenant.users[index], "POWER_BI_PRO") {
                TestTenant.setDirect(
                    (tenant.users[index].licenseAssignmentStates ?? []).filter { $0.isDirect && $0.skuId != powerBI },
                    of: index,
                    in: &tenant
                )
                stripped += 1
            }
            let index = tenant.users.firstIndex { $0.userPrincipalName == SampleTenant.breakGlassUser }!
            TestTenant.setDirect(
                (tenant.users[index].licenseAssignmentStates ?? []).filter(\.isDirect) + [
                    LicenseAssignmentState(skuId: powerBI)
                ],
                of: index,
                in: &tenant
            )
            breakGlass = tenant.users[index]
            let holders = tenant.users.filter { TestTenant.holdsDirectly($0, "POWER_BI_PRO") }.count
            let sku = tenant.subscribedSkus.firstIndex { $0.skuId == powerBI }!
            tenant.subscribedSkus[sku].prepaidUnits.enabled = holders
        }
        let freeing = try #require(breakGlass)
        let plan = scenario.plan
        #expect(plan.changes.first { $0.userId == freeing.id }?.removals.map(\.sku) == ["POWER_BI_PRO"])
        let served = plan.changes.filter { $0.adds.contains { $0.sku == "POWER_BI_PRO" } }
        #expect(served.count == 1 && plan.deferred.filter { $0.sku == "POWER_BI_PRO" }.count == 2)
        let waiting = try #require(served.first)

        try await scenario.simulator.addFault(
            SimulatedFault(kind: .serverError, path: "/users/\(freeing.id)/assignLicense", count: -1, status: 503)
        )
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply()
        #expect(result.status == 3, "\(result.summary)")
        #expect(result.count("failed.removals") == 1)
        #expect(result.count("deferred") == 3)
        let short = result.events("seats.short").filter { $0["user.id"] != nil }
        #expect(short.count == 1)
        #expect(short.first?["user.id"] == .string(waiting.userId.description))
        #expect(short.first?["user.upn"] == .string(waiting.userPrincipalName))
        #expect(short.first?["sku"] == "POWER_BI_PRO")
        let log = try await scenario.simulator.requests()
        #expect(
            !log.batchItems.contains { TenantExpectations.user(of: $0) == waiting.userId },
            "an add that would fail was sent"
        )

        try await scenario.simulator.clearFaults()
        let repaired = try await scenario.workspace.apply()
        #expect(
            repaired.status == 3 && repaired.count("deferred") == 2 && repaired.count("failed.removals") == 0,
            "\(repaired.summary)"
        )
        TenantExpectations.expectConverged(try await scenario.simulator.tenant(), initial: scenario.initial, plan: plan)
    }

    @Test(
        "a state directory that cannot be written: with a removal delay nothing is written; without one the cycle goes on and warns"
    )
    func stateNotWritable() async throws {
        var settings = Workspace.Settings()
        settings.removalDelay = "1h"
        let scenario = try await Scenario("nostate", users: 300, seed: 48, drift: 10, settings: settings)
        scenario.workspace.stateDirectory = scenario.workspace.directory + "/client-secret/state"
        try await scenario.simulator.clearRequests()
        let refused = try await scenario.workspace.apply()
        #expect(refused.status == 1, "\(refused.summary)")
        let warning = try #require(refused.events("state.save_failed").first)
        #expect(warning["level"] == "warning")
        #expect(warning["error"]?.stringValue?.contains(scenario.workspace.stateDirectory) == true, "\(warning)")
        #expect(refused.events("cycle.failed").count == 1)
        #expect(try await scenario.simulator.requests().writes.isEmpty)

        settings.removalDelay = "0h"
        try scenario.workspace.configure(simulator: scenario.simulator.baseURL, settings)
        let plan = try await scenario.replan()
        try await scenario.simulator.clearRequests()
        let applied = try await scenario.workspace.apply()
        scenario.expectComplete(applied)
        #expect(applied.events("state.save_failed").count == 2, "before and after the writes")
        try await scenario.expectConverged(logs: [try await scenario.simulator.requests()])
        #expect(plan.summary.removals > 0)
    }

    @Test("mode: report writes nothing and logs drift.detected once per drifted user")
    func reportMode() async throws {
        var settings = Workspace.Settings()
        settings.mode = "report"
        let scenario = try await Scenario("report", seed: 42, drift: 10, settings: settings)
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply()
        #expect(result.status == 3, "drifted: \(result.summary)")
        #expect(result.finished["result"] == "drifted")
        let drifted = result.events("drift.detected").compactMap { $0["user.id"]?.stringValue.flatMap(GUID.init) }
        #expect(!drifted.isEmpty)
        for event in result.events("drift.detected") {
            let fields = Set(event.keys).subtracting(["ts", "level", "event", "msg"])
            #expect(
                fields == ["user.id", "user.upn", "adds", "removals", "plan_changes", "policies", "usage_location"],
                "\(event)"
            )
        }
        #expect(!scenario.plan.deferred.isEmpty, "deferred users are reported too")
        #expect(drifted.count == Set(drifted).count, "a user was reported twice")
        #expect(Set(drifted) == scenario.plan.driftedUsers)
        #expect(drifted.count == scenario.plan.summary.usersDrifted)
        #expect(result.events("license.applied").isEmpty && result.events("usage_location.set").isEmpty)
        let writes = try await scenario.simulator.requests().writes
        #expect(writes.isEmpty, "report mode wrote: \(writes.prefix(3).map(\.path))")
        #expect(
            TenantExpectations.directState(try await scenario.simulator.tenant())
                == TenantExpectations.directState(scenario.initial)
        )
    }

    @Test(
        "removalDelay: the first apply removes nothing; once the delay has passed the next one removes; a corrupt state file only delays"
    )
    func removalDelay() async throws {
        var settings = Workspace.Settings()
        settings.removalDelay = "1h"
        let scenario = try await Scenario("delay", seed: 43, drift: 10, settings: settings)
        let first = scenario.plan
        let delayed = Set(first.delayedRemovals.map { PendingRemoval(user: $0.userId, sku: $0.skuId) })
        #expect(!delayed.isEmpty)
        #expect(first.changes.allSatisfy { ($0.assignLicense?.removeLicenses ?? []).isEmpty })

        try await scenario.simulator.clearRequests()
        let held = try await scenario.workspace.apply()
        #expect(held.status == 3, "removals wait: \(held.summary)")
        #expect(
            !(try await scenario.simulator.requests().batchItems.contains {
                !TenantExpectations.removedSkus($0).isEmpty
            })
        )
        #expect(try pendingRemovals(scenario.workspace).keys.sorted() == delayed.sorted())

        // A corrupt state file is set aside; the removal clocks start again, so it only delays.
        try Data("{ \"version\": 1, \"pendingRemovals\": [".utf8).write(
            to: URL(fileURLWithPath: scenario.workspace.statePath)
        )
        try await scenario.simulator.clearRequests()
        let started = Int64(Date().timeIntervalSince1970)
        let recovered = try await scenario.workspace.apply()
        #expect(recovered.status == 3, "\(recovered.summary)")
        #expect(recovered.events("state.recovered").count == 1)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scenario.workspace.stateDirectory).contains {
                $0.hasPrefix("state.json.corrupt-")
            }
        )
        #expect(try await scenario.simulator.requests().writes.isEmpty, "nothing left to add, and removals still wait")
        let restarted = try pendingRemovals(scenario.workspace)
        #expect(restarted.keys.sorted() == delayed.sorted())
        #expect(restarted.values.allSatisfy { $0 >= started }, "the clocks started again")

        // Move the clocks back past the delay: the next apply removes exactly the delayed pairs.
        var state = try scenario.workspace.stateDocument()
        guard case let .array(entries)? = state["pendingRemovals"] else {
            throw HarnessError("no pendingRemovals in state.json")
        }
        state["pendingRemovals"] = .array(
            entries.map { entry in
                guard case var .object(fields) = entry, case let .number(since)? = fields["since"] else { return entry }
                fields["since"] = .number(since - 7_200)
                return .object(fields)
            }
        )
        try JSONEncoder().encode(JSONValue.object(state)).write(to: URL(fileURLWithPath: scenario.workspace.statePath))
        let due = try await scenario.replan()
        #expect(due.delayedRemovals.isEmpty)
        try await scenario.simulator.clearRequests()
        let removing = try await scenario.workspace.apply()
        scenario.expectComplete(removing)
        let sent = try await scenario.simulator.requests().batchItems.flatMap { item in
            TenantExpectations.removedSkus(item).map {
                PendingRemoval(user: TenantExpectations.user(of: item)!, sku: $0)
            }
        }
        #expect(sent.sorted() == delayed.sorted())
        #expect(try await scenario.workspace.plan().changes.isEmpty)
    }

    /// `pendingRemovals` of the state file: (user, SKU) -> since.
    private func pendingRemovals(_ workspace: Workspace) throws -> [PendingRemoval: Int64] {
        guard case let .array(entries)? = try workspace.stateDocument()["pendingRemovals"] else { return [:] }
        var pairs: [PendingRemoval: Int64] = [:]
        for case let .object(fields) in entries {
            guard let user = fields["user"]?.stringValue.flatMap(GUID.init),
                let sku = fields["sku"]?.stringValue.flatMap(GUID.init),
                case let .number(since)? = fields["since"]
            else { continue }
            pairs[PendingRemoval(user: user, sku: sku)] = Int64(since)
        }
        return pairs
    }
}
