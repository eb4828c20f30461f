import AllotTestSupport
import AllotCore
import AllotEngine
import AllotSimulator
import Foundation
import Testing

/// Lifecycle rules end to end, in process against the simulator's generated lifecycle dates:
/// reclaiming E5 from inactive users (with the guard and the removal delay), and a joiner who
/// gets nothing before the start date.
@Suite("End to end: lifecycle rules")
struct LifecycleTests {
    /// The moment the generated dates are relative to, and the first cycle's start.
    static let start = Date(timeIntervalSince1970: TimeInterval(PolicyDates.instant("2026-12-07T06:00:00Z")!))
    static let day: TimeInterval = 86_400

    /// The generated tenant, generated once: both tests and both engines of `reclaimInactive`
    /// start from it (each engine's simulator takes its own copy).
    ///
    /// 3,000 users (10,000 before; the size is not what these tests are about) still give what
    /// the checks need: 569 E5 holders, 21 of them inactive who lose E5 (the test requires
    /// some), 531 who keep it with a sign-in date checked, 21 removals where the guard allows
    /// 5, and 31 joiners with a future hire date to pick one from.
    static let generated = TenantGenerator(users: 3_000, seed: 61, driftPercent: 0, lifecycleDatesAsOf: start)
        .generate()

    static func tenant() -> Snapshot { generated }

    /// The sample engineering policy with inactive users excluded.
    static let reclaim = """
        name: engineering-e5
        priority: 100
        match:
          groups: [Engineering]
          attributes:
            accountEnabled: true
          exclude:
            groups: [License Exempt]
            attributes:
              signInActivity.lastSuccessfulSignInDateTime: { olderThan: 90d }
        licenses:
          - sku: SPE_E5
            disabledPlans: [YAMMER_ENTERPRISE]
            replaces: [SPE_E3]
        """

    static func grantAuditLogs(_ configuration: inout SimulatorConfiguration) {
        for index in configuration.applications.indices {
            configuration.applications[index].roles.insert("AuditLog.Read.All")
        }
    }

    /// The last successful sign-in of a user of the simulator's tenant, if any.
    static func lastSuccessfulSignIn(_ user: DirectoryUser) -> Int64? {
        guard case let .object(activity)? = user.properties["signInActivity"],
            case let .string(text)? = activity["lastSuccessfulSignInDateTime"]
        else { return nil }
        return PolicyDates.instant(text)
    }

    @Test(
        "a reclaim policy takes E5 from inactive users only, after the removal delay, and the guard stops a mass reclaim"
    )
    func reclaimInactive() async throws {
        var settings = Workspace.Settings()
        settings.removalDelay = "72h"
        try await InProcessEngine.with(
            "reclaim",
            tenant: Self.tenant(),
            settings: settings,
            configure: Self.grantAuditLogs
        ) { engine in
            let converged = try await engine.cycle(now: { Self.start })
            #expect(converged.report.failed.total == 0 && converged.report.planned.removals == 0, "\(converged.report)")
            let holders = Set(
                engine.simulator.currentTenant().users.filter { TestTenant.holdsDirectly($0, "SPE_E5") }.map(\.id)
            )

            try engine.workspace.writePolicy("engineering.yaml", Self.reclaim)
            let reclaiming = try engine.reloaded()
            // First sight: the removals wait for `removalDelay`; nothing is taken yet.
            let first = try await reclaiming.cycle(now: { Self.start })
            #expect(first.report.delayedRemovals > 0, "\(first.report)")
            #expect(
                Set(engine.simulator.currentTenant().users.filter { TestTenant.holdsDirectly($0, "SPE_E5") }.map(\.id))
                    == holders
            )

            // Four days on, the delay has passed for the users seen then: their E5 goes.
            let later = Self.start.addingTimeInterval(4 * Self.day)
            let second = try await reclaiming.cycle(now: { later })
            #expect(second.report.failed.total == 0, "\(second.report)")
            let tenant = engine.simulator.currentTenant()
            let lost = tenant.users.filter { holders.contains($0.id) && !TestTenant.holdsDirectly($0, "SPE_E5") }
            #expect(!lost.isEmpty)
            let cutoff = Int64(Self.start.timeIntervalSince1970) - 90 * 86_400
            for user in lost {
                let signIn = try #require(
                    Self.lastSuccessfulSignIn(user),
                    "\(user.userPrincipalName) lost E5 without a sign-in date"
                )
                #expect(
                    signIn < cutoff,
                    "\(user.userPrincipalName) lost E5, last signed in \(PolicyDates.text(signIn))"
                )
                #expect(
                    TestTenant.holdsDirectly(user, "SPE_E3"),
                    "\(user.userPrincipalName) is back on E3 from the baseline policy"
                )
            }
            // Nobody active, and nobody who never signed in, lost E5 (those inactive for 90 days
            // only since the first cycle wait for their own delay).
            for user in tenant.users where holders.contains(user.id) && TestTenant.holdsDirectly(user, "SPE_E5") {
                if let signIn = Self.lastSuccessfulSignIn(user) {
                    #expect(
                        signIn >= cutoff,
                        "\(user.userPrincipalName) kept E5, last signed in \(PolicyDates.text(signIn))"
                    )
                }
            }
        }

        // The same reclaim in a tenant whose guard allows fewer removals: nothing is removed.
        var guarded = Workspace.Settings()
        guarded.maxRemovals = 5
        try await InProcessEngine.with(
            "reclaim-guard",
            tenant: Self.tenant(),
            settings: guarded,
            configure: Self.grantAuditLogs
        ) { engine in
            _ = try await engine.cycle(now: { Self.start })
            try engine.workspace.writePolicy("engineering.yaml", Self.reclaim)
            let before = engine.simulator.currentTenant().users.filter { TestTenant.holdsDirectly($0, "SPE_E5") }.count
            let cycle = try await engine.reloaded().cycle(now: { Self.start })
            let plan = try #require(cycle.outcome.plan)
            #expect(plan.guardrail.tripped && plan.guardrail.removals > 5)
            #expect(
                engine.simulator.currentTenant().users.filter { TestTenant.holdsDirectly($0, "SPE_E5") }.count == before
            )
        }
    }

    @Test("a joiner with a future hire date gets nothing until the evaluation time passes it")
    func joinerOnStartDate() async throws {
        let tenant = Self.tenant()
        let now = Int64(Self.start.timeIntervalSince1970)
        let joiner = try #require(
            tenant.users.first { user in
                guard case let .string(text)? = user.properties["employeeHireDate"],
                    let hire = PolicyDates.instant(text)
                else { return false }
                return hire > now && !TestTenant.holdsDirectly(user, "VISIOCLIENT")
            }
        )
        guard case let .string(hireText)? = joiner.properties["employeeHireDate"],
            let hire = PolicyDates.instant(hireText)
        else {
            Issue.record("the joiner has no hire date")
            return
        }
        var seated = tenant
        TestTenant.addSeats(10, to: "VISIOCLIENT", in: &seated)
        try await InProcessEngine.with("joiner", tenant: seated) { engine in
            try engine.workspace.writePolicy(
                "starters.yaml",
                """
                name: starters-visio
                match:
                  attributes:
                    userPrincipalName: \(joiner.userPrincipalName)
                    employeeHireDate: { olderThan: 0s }
                licenses:
                  - sku: VISIOCLIENT
                """
            )
            let starters = try engine.reloaded()
            func visioAdds(at moment: Int64) async throws -> [UserChange] {
                let options = ReconcileEngine.Options(
                    honourBackoff: false,
                    planOnly: true,
                    evaluateAt: Date(timeIntervalSince1970: TimeInterval(moment))
                )
                let plan = try #require(try await starters.cycle(options, now: { Self.start }).outcome.plan)
                return plan.changes.filter { $0.userId == joiner.id && $0.adds.contains { $0.sku == "VISIOCLIENT" } }
            }
            #expect(try await visioAdds(at: now).isEmpty)
            #expect(try await visioAdds(at: hire).isEmpty, "the start date itself, to the second, has not passed yet")
            #expect(try await visioAdds(at: hire + 1).map(\.userId) == [joiner.id])
        }
    }
}
