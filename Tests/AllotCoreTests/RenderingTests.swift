import Foundation
import Testing

@testable import AllotCore

@Suite("Plan and explanation rendering")
struct RenderingTests {
    func swapPlan() throws -> (Planner, Plan) {
        let e3 = Fixture.e3(consumed: 1)
        let tenant = try Fixture.tenant(
            skus: [e3, Fixture.e5(), Fixture.powerBIPro(prepaid: 0)],
            users: [Fixture.user(1, "ada", location: nil, licenses: [Fixture.direct(e3)]), Fixture.user(2, "bob")]
        )
        let policies = [
            Fixture.policy(
                "eng",
                grants: [Fixture.grant("SPE_E5", disabled: ["YAMMER_ENTERPRISE"], replaces: ["SPE_E3"])]
            ),
            Fixture.policy("bi", priority: 5, grants: [Fixture.grant("POWER_BI_PRO")]),
        ]
        var settings = Fixture.settings()
        settings.managedSkus = ["SPE_E3", "SPE_E5", "POWER_BI_PRO"].map { Reference($0) }
        let planner = Planner(
            tenant: tenant,
            policies: try CompiledPolicies(policies: policies, settings: settings, tenant: tenant, evaluatedAt: 0),
            settings: settings
        )
        return (planner, planner.plan())
    }

    @Test("text output lists each user's calls with +, - and @, then deferrals, totals and seats")
    func text() throws {
        let (_, plan) = try swapPlan()
        let text = PlanRenderer().render(plan)
        #expect(text.contains("  ~ ada@contoso.com (10000000-0000-0000-0000-000000000001)\n"))
        #expect(text.contains("      @ usageLocation: (none) -> US\n"))
        #expect(text.contains("      + SPE_E5  disabled: YAMMER_ENTERPRISE  eng\n"))
        #expect(text.contains("      - SPE_E3  replaced by SPE_E5\n"))
        #expect(text.contains("  ! bob@contoso.com  POWER_BI_PRO  priority 5  bi\n"))
        #expect(
            text.contains(
                "Plan: 2 users to change, 2 to add, 1 to remove, 0 plan changes, 1 usage location to set, 2 adds deferred."
            )
        )
        #expect(text.contains("  SPE_E3            100         1         99      0      -1     0      1         0\n"))
        #expect(!text.contains("\u{1B}["), "no colour unless asked")
        #expect(PlanRenderer(colors: true).render(plan).contains("\u{1B}[32m+\u{1B}[0m"))
    }

    @Test("JSON output has the documented shape, Graph's assignLicense body included")
    func json() throws {
        let (_, plan) = try swapPlan()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = try #require(JSONSerialization.jsonObject(with: encoder.encode(plan)) as? [String: Any])
        #expect(object["version"] as? Int == 1)
        #expect(
            Set(object.keys) == [
                "version", "summary", "changes", "deferred", "skipped", "delayedRemovals", "heldThroughGroups",
                "heldRemovals", "guard", "seats", "cost",
            ]
        )
        let changes = try #require(object["changes"] as? [[String: Any]])
        let body = try #require(changes.first?["assignLicense"] as? [String: Any])
        #expect((body["removeLicenses"] as? [String]) == ["05e9a617-0261-4cee-bb44-138d3ef5d965"])
        let add = try #require((body["addLicenses"] as? [[String: Any]])?.first)
        #expect(add["skuId"] as? String == "06ebc4ee-1bb5-47dd-8120-11324bc54e06")
        #expect(add["disabledPlans"] as? [String] == ["7547a3fe-08ee-4ccb-b430-5077c5041653"])
        #expect(changes.first?["setUsageLocation"] as? String == "US")
    }

    @Test("explain shows each policy's deciding clause, what is wanted and held, and the change")
    func explain() throws {
        let (planner, _) = try swapPlan()
        let explanation = try #require(planner.explain(user: "ADA@contoso.com"))
        #expect(explanation.policies.map(\.matched) == [true, true])
        #expect(explanation.desired.map(\.sku) == ["SPE_E5", "POWER_BI_PRO"])
        #expect(explanation.current.map(\.source) == [.direct])
        let text = ExplanationRenderer().render(explanation)
        #expect(text.contains("ada@contoso.com (10000000-0000-0000-0000-000000000001), usage location not set"))
        #expect(text.contains("  ✓ eng\n      + all: matches everyone\n"))
        #expect(text.contains("  SPE_E3  direct  all plans\n"))
        #expect(text.contains("      - SPE_E3  replaced by SPE_E5\n"))
        #expect(planner.explain(user: "nobody@contoso.com") == nil)
    }
}
