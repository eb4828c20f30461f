import AllotTestSupport
import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import Foundation
import Logging
import Testing

/// `allot apply FILE`: a saved plan is applied exactly, user by user, only where the tenant is
/// still as the plan saw it (docs/gitops.md "Saved plans").
@Suite("End to end: saved plans applied exactly")
struct SavedPlanTests {
    static func users(in log: [LoggedRequest]) -> Set<String> {
        Set(
            log.flatMap { $0.batchItems ?? [] }.compactMap { item in
                item.url.split(separator: "/").dropFirst().first.map(String.init)
            }
        )
    }

    @Test("users changed since the plan are skipped as plan.stale; exactly the others are written")
    func staleUsersAreSkipped() async throws {
        try await InProcessEngine.with("saved-plan", tenant: TestTenant.generate(users: 400, seed: 71, drift: 10)) {
            engine in
            let plan = try #require(try await engine.cycle(.init(planOnly: true)).outcome.plan)
            let saved = SavedPlan(
                plan: plan,
                createdAt: Int64(Date().timeIntervalSince1970),
                policyRevision: engine.loaded.policies.revision,
                configurationRevision: "unchecked here"
            )
            let licensed = saved.changes.filter { $0.assignLicense != nil && $0.setUsageLocation == nil }
            #expect(licensed.count > 5)
            // Three users change out of band after the plan: an admin applies their change by hand.
            let changedBehind = Array(licensed.prefix(3))
            let client = try GraphClient.Configuration(engine.loaded.configuration, environment: [:])
            let results = try await GraphClient.withGraphClient(configuration: client, logger: .init(label: "admin")) {
                graph in
                await graph.apply(changedBehind.map { .assignLicense(user: $0.userId, body: $0.assignLicense!) })
            }
            #expect(results.allSatisfy { if case .applied = $0.outcome { true } else { false } })
            engine.simulator.clearRequestLog()

            let cycle = try await engine.cycle(.init(honourBackoff: false, savedPlan: saved))
            let stale = cycle.events("plan.stale")
            #expect(
                Set(stale.compactMap { $0["user.id"].map { "\($0)" } }) == Set(changedBehind.map(\.userId.description))
            )
            #expect(stale.allSatisfy { $0["reason"] == .string("licensesChanged") })
            #expect(cycle.report.staleUsers == 3)
            let written = Self.users(in: engine.simulator.requestLog())
            let expected = Set(saved.changes.map(\.userId.description)).subtracting(
                changedBehind.map(\.userId.description)
            )
            #expect(written == expected)
            #expect(cycle.report.result == .notConverged, "stale users are left over")
        }
    }

    @Test("a saved plan is refused whole when edited, when the policies or configuration differ, or when too old")
    func refusals() throws {
        let tenant = try TenantModel(snapshot: TestTenant.generate(users: 50, seed: 3, drift: 20))
        let policies = [
            Policy(
                name: "all",
                match: Policy.Match(all: true),
                licenses: [Policy.LicenseGrant(sku: Reference("SPE_E3"))]
            )
        ]
        let settings = ReconcileSettings(managedSkus: [Reference("SPE_E3")], defaultUsageLocation: "US")
        let planner = Planner(
            tenant: tenant,
            policies: try CompiledPolicies(policies: policies, settings: settings, tenant: tenant, evaluatedAt: 0),
            settings: settings
        )
        var saved = SavedPlan(
            plan: planner.plan(),
            createdAt: 1_000_000,
            policyRevision: "p1",
            configurationRevision: "c1"
        )
        saved.digest = "d1"
        #expect(
            saved.refusal(
                digest: "d1",
                policyRevision: "p1",
                configurationRevision: "c1",
                now: 1_000_060,
                maxAge: 86_400
            ) == nil
        )
        #expect(
            saved.refusal(
                digest: "d2",
                policyRevision: "p1",
                configurationRevision: "c1",
                now: 1_000_060,
                maxAge: 86_400
            )?
            .contains("changed after it was written") == true
        )
        #expect(
            saved.refusal(
                digest: "d1",
                policyRevision: "p2",
                configurationRevision: "c1",
                now: 1_000_060,
                maxAge: 86_400
            )?
            .contains("the policies changed") == true
        )
        #expect(
            saved.refusal(
                digest: "d1",
                policyRevision: "p1",
                configurationRevision: "c2",
                now: 1_000_060,
                maxAge: 86_400
            )?
            .contains("the configuration changed") == true
        )
        #expect(
            saved.refusal(
                digest: "d1",
                policyRevision: "p1",
                configurationRevision: "c1",
                now: 1_000_000 + 90_000,
                maxAge: 86_400
            )?
            .contains("older than --max-age 24h") == true
        )

        // Unchanged tenant: every saved change is sendable; a change edited in the file is not.
        #expect(saved.applicable(fresh: planner.plan().changes, tenant: tenant).stale.isEmpty)
        var tampered = saved
        tampered.changes[0].assignLicense?.removeLicenses.append(GUID(high: 1, low: 1))
        let outcome = tampered.applicable(fresh: planner.plan().changes, tenant: tenant)
        #expect(outcome.stale.map(\.reason) == [.plannedDifferently])
        #expect(outcome.send.count == saved.changes.count - 1)
    }
}
