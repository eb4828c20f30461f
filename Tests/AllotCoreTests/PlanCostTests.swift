import Foundation
import Testing

@testable import AllotCore

/// The cost a plan shows with `prices:`: seats added and freed, monthly cost before and after.
@Suite("Plan cost")
struct PlanCostTests {
    @Test("a plan shows per SKU the seats it adds and frees and the monthly cost before and after")
    func planCost() throws {
        let e3 = Fixture.e3(prepaid: 5, consumed: 3)
        let e5 = Fixture.e5(prepaid: 10, consumed: 1)
        let bi = Fixture.powerBIPro(prepaid: 0, consumed: 0)
        let tenant = try Fixture.tenant(
            skus: [e3, e5, bi],
            users: [
                Fixture.user(1, "ada", licenses: [Fixture.direct(e3)]),
                Fixture.user(2, "bob", licenses: [Fixture.direct(e3)]),
                Fixture.user(3, "cy", licenses: [Fixture.direct(e3), Fixture.direct(e5)]),
            ]
        )
        var settings = Fixture.settings()
        settings.prices = PriceList([
            SkuPrice(sku: Reference("SPE_E5"), price: Price(monthly: Amount(57), currency: "EUR")),
            SkuPrice(sku: Reference("spe_e3"), price: Price(monthly: Amount(36), currency: "EUR")),
        ])
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("e5", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])])],
            settings
        )
        #expect(plan.seats.map(\.seatsAdded) == [0, 2, 0])
        #expect(plan.seats.map(\.seatsFreed) == [3, 0, 0])
        // Power BI Pro is managed but unpriced: no cost row.
        #expect(plan.cost.skus.map(\.sku) == ["SPE_E3", "SPE_E5"])
        #expect(plan.cost.skus.map(\.monthlyBefore.description) == ["108.00", "57.00"])
        #expect(plan.cost.skus.map(\.monthlyAfter.description) == ["0.00", "171.00"])
        #expect(plan.cost.totals == [CostTotal(currency: "EUR", monthlyBefore: Amount(165), monthlyAfter: Amount(171))])

        let text = PlanRenderer().render(plan)
        #expect(text.contains("  SKU           prepaid  consumed  available  after  change  adds  frees  deferred\n"))
        #expect(text.contains("  SPE_E3              5         3          2      0      -3     0      3         0\n"))
        #expect(text.contains("  SPE_E3  36.00 EUR  108.00    0.00  -108.00\n"))
        #expect(text.contains("  total         EUR  165.00  171.00    +6.00\n"))
        #expect(MarkdownRenderer().render(plan).contains("| **total EUR** | | **165.00** | **171.00** |\n"))

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = try #require(JSONSerialization.jsonObject(with: encoder.encode(plan)) as? [String: Any])
        let cost = try #require(object["cost"] as? [String: Any])
        let skus = try #require(cost["skus"] as? [[String: Any]])
        #expect(skus.first?["seatsFreed"] as? Int == 3)
        #expect(skus.first?["monthlyPrice"] as? String == "36.00")
        #expect((cost["totals"] as? [[String: Any]])?.first?["monthlyAfter"] as? String == "171.00")

        // Without prices, a plan carries no cost and says none.
        let unpriced = try Fixture.plan(
            tenant,
            [Fixture.policy("e5", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])])]
        )
        #expect(unpriced.cost == PlanCost())
        #expect(!PlanRenderer().render(unpriced).contains("Monthly cost"))
    }
}
