import AllotTestSupport
import AllotCore
import AllotEngine
import AllotSimulator
import Foundation
import Testing

/// Seat waves end to end: a tenant whose seats are scarce, with swaps across SKUs in both
/// directions, converges in one apply with no write Graph refuses for lack of a seat, whatever
/// order the simulator runs a batch's requests in.
@Suite("End to end: seat waves")
struct SeatWaveTests {
    /// A generated tenant with swaps both ways (engineers E3 → E5, others E5 → E3) and, per
    /// managed SKU, seats for the converged tenant plus one: adds must wait for the seats other
    /// users' calls free.
    static func scarceTenant(seed: UInt64) async throws -> Snapshot {
        // 500 users (800 before, for no reason of size): every seed still has about 150 users to
        // change and adds of three SKUs (two for one seed) waiting for seats, which the test
        // checks below; at 400 four seeds had only the two SKUs the check asks for.
        var tenant = TestTenant.generate(users: 500, seed: seed, drift: 25)
        // Down-swaps: non-engineers holding E3 directly get E5 instead, which the policies take back.
        var swapped = 0
        for index in tenant.users.indices where swapped < 40 {
            let user = tenant.users[index]
            guard TestTenant.holdsDirectly(user, "SPE_E3"), !TestTenant.holdsThroughGroup(user, "SPE_E3"),
                user.properties["department"] != "Engineering"
            else { continue }
            let states = (user.licenseAssignmentStates ?? []).filter(\.isDirect).map { state in
                state.skuId == TestTenant.sku("SPE_E3")
                    ? LicenseAssignmentState(skuId: TestTenant.sku("SPE_E5")) : state
            }
            TestTenant.setDirect(states, of: index, in: &tenant)
            swapped += 1
        }
        TestTenant.recountConsumedUnits(&tenant)
        // What the converged tenant uses, planned with seats to spare.
        var roomy = tenant
        for index in roomy.subscribedSkus.indices { roomy.subscribedSkus[index].prepaidUnits.enabled += 100_000 }
        let converged = try await InProcessEngine.with("seats-probe", tenant: roomy) { engine in
            try #require(try await engine.cycle(.init(planOnly: true)).outcome.plan).seats
        }
        for seats in converged {
            guard let index = tenant.subscribedSkus.firstIndex(where: { $0.skuId == seats.skuId }) else { continue }
            tenant.subscribedSkus[index].prepaidUnits.enabled = seats.consumedAfter + 1
        }
        return tenant
    }

    @Test(
        "scarce seats and cross-SKU swaps converge in one apply, no write refused for seats; the second apply sends nothing",
        arguments: 1...20
    )
    func scarceSeats(seed: UInt64) async throws {
        let tenant = try await Self.scarceTenant(seed: 7_000 + seed)
        // The simulator runs each parallel batch's requests in a random order of its own, drawn per seed.
        try await InProcessEngine.with(
            "seats",
            tenant: tenant,
            configure: {
                $0.batchOrder = .random; $0.batchSeed = seed
            }
        ) { engine in
            let first = try await engine.cycle()
            let plan = try #require(first.outcome.plan)
            let changes = plan.changes
            let waiting = plan.seats.filter { seats in
                changes.filter { $0.adds.contains { $0.skuId == seats.skuId } }.count > seats.prepaid
                    - seats.consumedBefore
            }
            #expect(waiting.count >= 2, "adds of several SKUs must wait for the seats other calls free")
            let report = first.report
            #expect(report.failed.total == 0, "\(report.failures.prefix(3))")
            #expect(report.notSent == 0)
            #expect(report.applied.adds == plan.summary.adds && report.applied.removals == plan.summary.removals)
            #expect(report.deferredAdds == plan.summary.deferredAdds)
            #expect(
                first.events("seats.short").allSatisfy { $0["deferred"] != nil },
                "only the plan's own deferrals: \(first.events("seats.short"))"
            )
            let refused = engine.simulator.requestLog().flatMap { $0.batchItems ?? [] }.filter { $0.status >= 400 }
            #expect(refused.isEmpty, "Graph refused: \(refused.prefix(3))")

            engine.simulator.clearRequestLog()
            let second = try await engine.cycle()
            #expect(second.outcome.plan?.hasChanges == false)
            #expect(engine.simulator.requestLog().allSatisfy { $0.batchItems == nil }, "the second apply wrote")
        }
    }
}
