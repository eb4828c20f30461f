import Foundation
import Testing

@testable import AllotCore

/// `allot plan --compare-to`: the split between what a policy change causes and the drift
/// already in the tenant, seats and the guard with both policy sets, and the Markdown comment.
@Suite("Policy impact")
struct PolicyImpactTests {
    let e3 = Fixture.e3(prepaid: 10, consumed: 3)
    let bi = Fixture.powerBIPro(prepaid: 10, consumed: 2)

    /// ada and bob in Sales hold E3 and BI; cy in Eng holds E3 only; dee in Eng has nothing (drift).
    func tenant(biSeats: Int = 10) throws -> TenantModel {
        let bi = Fixture.powerBIPro(prepaid: biSeats, consumed: 2)
        return try Fixture.tenant(
            skus: [e3, bi],
            groups: [
                Fixture.group(1, "Sales", members: [1, 2]), Fixture.group(2, "Eng", members: [3, 4]),
                Fixture.group(3, "Eng-core", members: [3]),
            ],
            users: [
                Fixture.user(1, "ada", licenses: [Fixture.direct(e3), Fixture.direct(bi)]),
                Fixture.user(2, "bob", licenses: [Fixture.direct(e3), Fixture.direct(bi)]),
                Fixture.user(3, "cy", licenses: [Fixture.direct(e3)]),
                Fixture.user(4, "dee"),
            ]
        )
    }

    static let staff = Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])
    static let salesBI = Fixture.policy(
        "sales-bi",
        match: Policy.Match(groups: [Reference("Sales")]),
        grants: [Fixture.grant("POWER_BI_PRO")]
    )

    func impact(
        _ tenant: TenantModel,
        base: [Policy],
        proposed: [Policy],
        settings: ReconcileSettings = Fixture.settings()
    ) throws -> PolicyImpact {
        func planner(_ policies: [Policy]) throws -> Planner {
            Planner(
                tenant: tenant,
                policies: try CompiledPolicies(policies: policies, settings: settings, tenant: tenant, evaluatedAt: 0),
                settings: settings
            )
        }
        return PolicyImpact(base: try planner(base), proposed: try planner(proposed))
    }

    static var settings: ReconcileSettings {
        var settings = Fixture.settings()
        settings.managedSkus = ["SPE_E3", "POWER_BI_PRO"].map { Reference($0) }
        return settings
    }

    @Test(
        "removing a policy: its removals are caused by the change, naming the policy that granted them; dee's E3 is drift"
    )
    func removingAPolicy() throws {
        let impact = try impact(
            tenant(),
            base: [Self.staff, Self.salesBI],
            proposed: [Self.staff],
            settings: Self.settings
        )
        let caused = impact.changes.filter { $0.cause == .policy }
        #expect(caused.map(\.userPrincipalName) == ["ada@contoso.com", "bob@contoso.com"])
        let removal = try #require(caused.first?.removals.first)
        #expect(removal.sku == "POWER_BI_PRO" && removal.cause == .policy && removal.grantedBefore == ["sales-bi"])
        let drift = try #require(impact.changes.first { $0.userPrincipalName == "dee@contoso.com" })
        #expect(drift.cause == .drift && drift.adds.map(\.cause) == [.drift])
        #expect(impact.summary.usersChangedByPolicy == 2 && impact.summary.removalsByPolicy == 2)
        #expect(impact.summary.usersWithDrift == 1 && impact.summary.driftAdds == 1)
        let seats = try #require(impact.seats.first { $0.sku == "POWER_BI_PRO" })
        #expect(seats.availableNow == 8 && seats.availableAfterBase == 8 && seats.availableAfterProposed == 10)
    }

    @Test(
        "the cost of a change: each priced SKU now and after either policy set, totals per currency, in text and Markdown"
    )
    func costOfAChange() throws {
        var settings = Self.settings
        settings.prices = PriceList([
            SkuPrice(sku: Reference("SPE_E3"), price: Price(monthly: Amount(36), currency: "EUR")),
            SkuPrice(sku: Reference("POWER_BI_PRO"), price: Price(monthly: Amount(10), currency: "EUR")),
        ])
        let impact = try impact(tenant(), base: [Self.staff, Self.salesBI], proposed: [Self.staff], settings: settings)
        // dee's E3 is added either way (drift); the change removes ada's and bob's BI.
        #expect(impact.cost.skus.map(\.sku) == ["SPE_E3", "POWER_BI_PRO"])
        #expect(
            impact.cost.skus.map { [$0.monthlyNow, $0.monthlyAfterBase, $0.monthlyAfterProposed].map(\.description) }
                == [
                    ["108.00", "144.00", "144.00"], ["20.00", "20.00", "0.00"],
                ]
        )
        let total = try #require(impact.cost.totals.first)
        #expect(impact.cost.totals.count == 1 && total.sku == nil && total.currency == "EUR")
        #expect(
            [total.monthlyNow, total.monthlyAfterBase, total.monthlyAfterProposed].map(\.description) == [
                "128.00", "164.00", "144.00",
            ]
        )
        #expect(
            ImpactRenderer().render(impact).contains(
                "  total              EUR  128.00      164.00          144.00            -20.00\n"
            )
        )
        #expect(MarkdownRenderer().render(impact).contains("| **total** EUR | 128.00 | 164.00 | 144.00 | -20.00 |\n"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = try #require(JSONSerialization.jsonObject(with: encoder.encode(impact)) as? [String: Any])
        let totals = try #require((object["cost"] as? [String: Any])?["totals"] as? [[String: Any]])
        #expect(totals.first?["monthlyAfterProposed"] as? String == "144.00" && totals.first?["sku"] == nil)
    }

    @Test("narrowing a group: only the members left out lose the license")
    func narrowingAGroup() throws {
        let eng = Fixture.policy(
            "eng-bi",
            match: Policy.Match(groups: [Reference("Eng")]),
            grants: [Fixture.grant("POWER_BI_PRO")]
        )
        let core = Fixture.policy(
            "eng-bi",
            match: Policy.Match(groups: [Reference("Eng-core")]),
            grants: [Fixture.grant("POWER_BI_PRO")]
        )
        let impact = try impact(
            tenant(),
            base: [Self.staff, Self.salesBI, eng],
            proposed: [Self.staff, Self.salesBI, core],
            settings: Self.settings
        )
        // Base adds BI to cy and dee (drift with the base policies); the narrowed group withdraws dee's.
        let cy = try #require(impact.changes.first { $0.userPrincipalName == "cy@contoso.com" })
        #expect(cy.adds.map(\.cause) == [.drift])
        let dee = try #require(impact.withdrawn.first { $0.userPrincipalName == "dee@contoso.com" })
        #expect(dee.adds.map(\.sku) == ["POWER_BI_PRO"] && dee.cause == .policy)
        #expect(impact.summary.usersWithdrawn == 1)
        #expect(impact.summary.usersChangedByPolicy == 0, "dee still gets E3, which is drift")
    }

    @Test("a SKU with scarce seats: the adds it causes and the deferrals it causes")
    func scarceSeats() throws {
        let everyoneBI = Fixture.policy("everyone-bi", grants: [Fixture.grant("POWER_BI_PRO")])
        let impact = try impact(
            tenant(biSeats: 3),
            base: [Self.staff, Self.salesBI],
            proposed: [Self.staff, everyoneBI],
            settings: Self.settings
        )
        #expect(impact.summary.addsByPolicy == 1, "one seat is left for cy and dee")
        #expect(impact.deferralsCaused.count == 1 && impact.deferralsCaused.first?.sku == "POWER_BI_PRO")
        #expect(impact.summary.deferralsCaused == 1)
        let seats = try #require(impact.seats.first { $0.sku == "POWER_BI_PRO" })
        #expect(seats.availableAfterProposed == 0 && seats.deferredBase == 0 && seats.deferredProposed == 1)
    }

    @Test("a change that trips the guard says so, and its removals are still listed as caused")
    func guardTrips() throws {
        var settings = Self.settings
        settings.guardrail = RemovalGuard(maxRemovals: 1, maxRemovalPercent: 100)
        let impact = try impact(tenant(), base: [Self.staff, Self.salesBI], proposed: [Self.staff], settings: settings)
        #expect(impact.summary.guardTrippedByChange)
        #expect(impact.guardrail.proposed.tripped && !impact.guardrail.base.tripped)
        let text = ImpactRenderer().render(impact)
        #expect(text.contains("Guard trips because of this change: "))
        #expect(
            MarkdownRenderer().render(impact).contains(
                "> [!WARNING]\n> The mass-removal guard trips with this change: "
            )
        )
    }

    @Test("text, JSON and Markdown of one impact")
    func renderings() throws {
        let impact = try impact(
            tenant(),
            base: [Self.staff, Self.salesBI],
            proposed: [Self.staff],
            settings: Self.settings
        )
        let text = ImpactRenderer().render(impact)
        #expect(
            text.hasPrefix(
                "Changes the proposed policies cause:\n\n  - ada@contoso.com (10000000-0000-0000-0000-000000000001)\n"
            )
        )
        #expect(
            text.contains(
                "Drift present with either policy set: 1 user (1 to add, 0 to remove, 0 plan changes); --show-drift lists them.\n"
            )
        )
        #expect(!text.contains("dee@contoso.com"), "drift is summarised unless asked for")
        #expect(ImpactRenderer(showDrift: true).render(impact).contains("  + dee@contoso.com"))

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = try #require(JSONSerialization.jsonObject(with: encoder.encode(impact)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "version", "summary", "changes", "withdrawn", "deferralsCaused", "seats", "cost", "guard", "proposed",
            ]
        )
        let changes = try #require(object["changes"] as? [[String: Any]])
        #expect(changes.map { $0["cause"] as? String } == ["policy", "policy", "drift"])
        let removal = try #require((changes.first?["removals"] as? [[String: Any]])?.first)
        #expect(removal["cause"] as? String == "policy" && removal["grantedBefore"] as? [String] == ["sales-bi"])

        let markdown = MarkdownRenderer().render(impact)
        #expect(
            markdown.hasPrefix(
                "**Allot policy impact:** 2 users changed by this policy change (0 to add, 2 to remove, 0 plan changes)."
            )
        )
        #expect(
            markdown.contains(
                "| SKU | prepaid | available now | after (base) | after (this change) | deferred (base → this change) |\n"
            )
        )
        #expect(
            markdown.contains(
                "<details><summary>sales-bi: 2 changes</summary>\n\n| User | Change | Detail |\n|---|---|---|\n"
            )
        )
        #expect(markdown.contains("| ada@contoso.com | - POWER_BI_PRO | no matching policy grants it |\n"))
        #expect(
            markdown.contains("**Drift** (planned with either policy set, not caused by this change): 1 user, 1 to add")
        )
    }

    @Test("a plan's JSON is unchanged by the impact fields: no cause outside an impact")
    func plainPlanHasNoCause() throws {
        let plan = try Fixture.plan(tenant(), [Self.staff], Self.settings)
        let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        #expect(!json.contains("cause") && !json.contains("grantedBefore"))
    }

    @Test("a 10,000-user plan, over seven times GitHub's comment limit, renders to Markdown under it, cut between rows")
    func largePlanFitsAComment() throws {
        let users = (1...10_000).map { Fixture.user($0, "user\($0)") }
        let tenant = try Fixture.tenant(skus: [Fixture.e3(prepaid: 20_000)], users: users)
        let plan = try Fixture.plan(tenant, [Self.staff])
        #expect(plan.summary.adds == 10_000)
        // Uncut, the rows alone would fill the comment several times over.
        let rowBytes = plan.changes.map { "| \($0.userPrincipalName) | + SPE_E3 | all plans |\n".utf8.count }.reduce(
            0,
            +
        )
        #expect(rowBytes > 7 * MarkdownRenderer.gitHubCommentLimit, "\(rowBytes) bytes of rows")
        let markdown = MarkdownRenderer().render(plan)
        #expect(markdown.utf8.count <= MarkdownRenderer.gitHubCommentLimit)
        #expect(markdown.contains(" more not shown (see `allot plan --output json`)._\n</details>\n"))
        // Every table line is whole: starts and ends with a pipe.
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines where line.hasPrefix("|") { #expect(line.hasSuffix("|")) }
        #expect(
            markdown.components(separatedBy: "<details>").count == markdown.components(separatedBy: "</details>").count
        )
    }

    @Test("a tiny limit leaves whole sections out and counts them")
    func sectionsLeftOutAreCounted() throws {
        let impact = try impact(
            tenant(),
            base: [Self.staff, Self.salesBI],
            proposed: [Self.staff],
            settings: Self.settings
        )
        let whole = MarkdownRenderer().render(impact)
        let cut = MarkdownRenderer(limit: whole.utf8.count - 300).render(impact)
        #expect(cut.utf8.count <= whole.utf8.count - 300)
        #expect(cut.contains("not shown"))
    }
}

@Suite("Redacted snapshots")
struct RedactionTests {
    @Test("names become stable pseudonyms, only tested properties stay, and the plan is unchanged")
    func redactionKeepsThePlan() throws {
        let e3 = Fixture.e3()
        let snapshot = Snapshot(
            tenant: "contoso.onmicrosoft.com",
            attributes: ["department", "onPremisesExtensionAttributes.extensionAttribute1"],
            subscribedSkus: [e3],
            groups: [Fixture.group(1, "Sales", members: [1])],
            users: [
                Fixture.user(
                    1,
                    "ada",
                    [
                        "department": "Sales", "displayName": "Ada Lovelace",
                        "onPremisesExtensionAttributes": ["extensionAttribute1": "A", "extensionAttribute2": "secret"],
                    ]
                ),
                Fixture.user(2, "bob", ["department": "Eng"]),
            ]
        )
        let redacted = snapshot.redacted()
        #expect(redacted.tenant == nil)
        let ada = try #require(redacted.users.first)
        #expect(ada.userPrincipalName.hasPrefix("u-") && ada.userPrincipalName.hasSuffix("@redacted.invalid"))
        #expect(ada.userPrincipalName == snapshot.redacted().users.first?.userPrincipalName, "stable")
        #expect(ada.properties["displayName"] == nil)
        #expect(ada.properties["onPremisesExtensionAttributes"] == ["extensionAttribute1": "A"])
        #expect(redacted.groups == snapshot.groups)

        let policies = [
            Fixture.policy(
                "sales",
                match: Policy.Match(groups: [Reference("Sales")], attributes: []),
                grants: [Fixture.grant("SPE_E3")]
            )
        ]
        let before = try Fixture.plan(TenantModel(snapshot: snapshot), policies)
        let after = try Fixture.plan(TenantModel(snapshot: redacted), policies)
        #expect(before.changes.map(\.userId) == after.changes.map(\.userId))
        #expect(before.changes.map(\.assignLicense) == after.changes.map(\.assignLicense))
        #expect(before.summary == after.summary)
    }
}
