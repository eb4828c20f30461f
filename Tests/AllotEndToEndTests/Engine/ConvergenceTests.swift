import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Testing

/// `allot apply` against `allot simulate`, both as processes: a 3,000-user tenant (four pages of
/// users, over a hundred drifted users) with drift of every kind converges in one apply, the next
/// apply writes nothing, and the tenant ends as the plan said. The size is not what this checks:
/// AllotSoak runs 20,000 users against the simulator; a debug build reading, applying and checking 10,000 users here
/// cost a third of the end-to-end tests' CPU.
@Suite("End to end: convergence")
struct ConvergenceTests {
    /// More than three pages of users (Graph's page is 999).
    static let users = 3_000

    @Test("3,000 users with every kind of drift converge in one apply; the second apply writes nothing")
    func threeThousandUsers() async throws {
        let workspace = try Workspace("converge")
        let initial = TestTenant.generate(users: Self.users, seed: 11, drift: 5)
        try workspace.writeTenant(initial)
        let simulator = try await SimulatorProcess(tenantFile: workspace.tenantPath, workspace: workspace.directory)
        defer { simulator.stop() }
        try workspace.configure(simulator: simulator.baseURL)

        let plan = try await workspace.plan()
        expectEveryKindOfDrift(plan, initial: initial)

        try await simulator.clearRequests()
        let first = try await workspace.apply()
        // Exit 3 only because POWER_BI_PRO is short of seats: nothing failed, skipped or held back.
        #expect(first.status == 3, "\(first.summary)")
        #expect(first.count("deferred") == plan.summary.deferredAdds)
        for field in [
            "failed.adds", "failed.removals", "failed.plan_changes", "failed.usage_locations", "skipped", "not_sent",
        ] {
            #expect(first.count(field) == 0, "\(field) in cycle.finished")
        }
        #expect(first.count("applied.adds") == plan.summary.adds)
        #expect(first.count("applied.removals") == plan.summary.removals)
        #expect(first.count("applied.plan_changes") == plan.summary.planChanges)
        #expect(first.count("applied.usage_locations") == plan.summary.usageLocationUpdates)
        #expect(first.events("license.applied").count == plan.changes.filter { $0.assignLicense != nil }.count)
        #expect(first.events("usage_location.set").count == plan.summary.usageLocationUpdates)
        #expect(first.events("license.failed").isEmpty)

        let log = try await simulator.requests()
        let removed = TenantExpectations.expectOnlyPlannedRemovals(log, plan: plan)
        #expect(removed.count == plan.summary.removals, "every planned removal, and no other, was sent")
        let final = try await simulator.tenant()
        TenantExpectations.expectConverged(final, initial: initial, plan: plan)

        try await simulator.clearRequests()
        let second = try await workspace.apply()
        #expect(second.status == 3, "still only the deferred adds: \(second.summary)")
        #expect(second.count("deferred") == plan.summary.deferredAdds)
        let secondLog = try await simulator.requests()
        #expect(secondLog.writes.isEmpty, "the second apply wrote: \(secondLog.writes.prefix(3).map(\.path))")
        #expect(!secondLog.isEmpty, "the second apply read the tenant")
        #expect(try await workspace.plan().changes.isEmpty)
    }

    /// The generated tenant has each kind of drift the brief names, so that convergence covers all of them.
    private func expectEveryKindOfDrift(_ plan: PlanDocument, initial: Snapshot) {
        let users = Dictionary(uniqueKeysWithValues: initial.users.map { ($0.id, $0) })
        let e3 = TestTenant.sku("SPE_E3"), e5 = TestTenant.sku("SPE_E5")
        let missing = plan.changes.filter { change in
            change.setUsageLocation == nil && change.removals.isEmpty
                && change.adds.contains { add in
                    !(users[change.userId]!.licenseAssignmentStates ?? []).contains { $0.skuId == add.skuId }
                }
        }
        let swaps = plan.changes.filter { change in
            change.adds.contains { $0.skuId == e5 }
                && change.removals.contains { $0.skuId == e3 && $0.reason == .replaced }
        }
        #expect(!missing.isEmpty, "missing licenses")
        #expect(plan.changes.contains { $0.removals.contains { $0.reason == .notGranted } }, "extra licenses")
        #expect(plan.changes.contains { !$0.planChanges.isEmpty }, "wrong plans")
        #expect(
            plan.changes.contains { $0.setUsageLocation != nil && $0.assignLicense != nil },
            "users without a usage location"
        )
        #expect(plan.heldThroughGroups.contains { $0.skuId == e3 }, "SKUs held through a group")
        #expect(!swaps.isEmpty, "E3 -> E5 swaps")
        let shortSkus = Set(plan.deferred.map(\.sku))
        #expect(shortSkus == ["POWER_BI_PRO"], "one SKU short of seats")
        #expect(plan.seats.first { $0.sku == "POWER_BI_PRO" }?.availableAfter == 0)
        #expect(plan.summary.usersRead == Self.users)
        #expect(plan.skipped.isEmpty && plan.delayedRemovals.isEmpty && !plan.guardrail.tripped)
    }
}
