import Foundation
import Testing

@testable import AllotCore

/// `allot report`'s computation and rendering, with `prices:`.
@Suite("The license report: seats and cost per SKU")
struct LicenseReportTests {
    static let prices = PriceList([
        SkuPrice(sku: Reference("SPE_E5"), price: Price(monthly: Amount(Decimal(string: "57.00")!), currency: "EUR")),
        SkuPrice(sku: Reference("spe_e3"), price: Price(monthly: Amount(36), currency: "EUR")),
        SkuPrice(
            sku: Reference("f8a1db68-be16-40ed-86d5-cb42ce701560"),
            price: Price(monthly: Amount(Decimal(string: "9.99")!), currency: "USD")
        ),
    ])

    /// 2026-12-07T00:00:00Z.
    static let evaluatedAt = PolicyDates.instant("2026-12-07")!

    static func person(
        _ number: Int,
        _ name: String,
        enabled: Bool = true,
        lastSignIn: String?,
        licenses: [LicenseAssignmentState]
    ) -> DirectoryUser {
        var properties: [String: JSONValue] = ["accountEnabled": .bool(enabled)]
        if let lastSignIn {
            properties["signInActivity"] = .object(["lastSuccessfulSignInDateTime": .string(lastSignIn)])
        }
        return Fixture.user(number, name, licenses: licenses, properties)
    }

    /// E5 (10 bought, 6 used), E3 (5, 3), Power BI Pro in dollars (3, 1), EMS unmanaged and unpriced (20, 2).
    static func tenant(attributes: [String] = LicenseReport.attributes(withActivity: true)) throws -> TenantModel {
        let e5 = Fixture.e5(prepaid: 10, consumed: 6)
        let e3 = Fixture.e3(prepaid: 5, consumed: 3)
        let bi = Fixture.powerBIPro(prepaid: 3, consumed: 1)
        let ems = Fixture.ems(prepaid: 20, consumed: 2)
        return try Fixture.tenant(
            skus: [e5, e3, bi, ems],
            users: [
                person(1, "ada", lastSignIn: "2026-12-02T08:00:00Z", licenses: [Fixture.direct(e5)]),
                person(2, "bob", lastSignIn: "2026-10-23T00:00:00Z", licenses: [Fixture.direct(e5)]),
                person(
                    3,
                    "cy",
                    enabled: false,
                    lastSignIn: "2026-09-23T00:00:00Z",
                    licenses: [Fixture.direct(e5), Fixture.direct(ems)]
                ),
                person(4, "di", lastSignIn: nil, licenses: [Fixture.direct(e5)]),
                person(5, "ed", lastSignIn: "0001-01-01T00:00:00Z", licenses: [Fixture.direct(e3)]),
                person(
                    6,
                    "fa",
                    lastSignIn: "2026-08-29T00:00:00Z",
                    licenses: [Fixture.direct(e3), Fixture.direct(bi)]
                ),
                person(7, "gu", lastSignIn: "2026-08-29T00:00:00Z", licenses: []),
            ],
            attributes: attributes
        )
    }

    static func report(_ tenant: TenantModel) -> LicenseReport {
        LicenseReport(
            tenant: tenant,
            managedSkus: ["SPE_E3", "SPE_E5", "POWER_BI_PRO"].map { Reference($0) },
            prices: prices,
            evaluatedAt: evaluatedAt
        )
    }

    @Test("every column per SKU: disabled accounts, inactive for 30/60/90 days, never signed in, managed or not")
    func reportSeats() throws {
        let report = Self.report(try Self.tenant())
        #expect(report.signInActivityRead && report.accountEnabledRead)
        #expect(report.skus.map(\.sku) == ["EMS", "POWER_BI_PRO", "SPE_E3", "SPE_E5"])
        #expect(report.skus.map(\.managed) == [false, true, true, true])
        let bySku = Dictionary(uniqueKeysWithValues: report.skus.map { ($0.sku, $0) })
        // bob 45 days, cy 75 days and disabled, di never signed in; ada 5 days ago is active.
        let e5 = try #require(bySku["SPE_E5"]).seats
        #expect([e5.prepaid, e5.assigned, e5.unassigned, e5.assignedToDisabled] == [10, 6, 4, 1])
        #expect(e5.inactive == [30: 3, 60: 2, 90: 1])
        // ed's sign-in is Graph's "never" placeholder; fa's is 100 days old.
        let e3 = try #require(bySku["SPE_E3"]).seats
        #expect([e3.prepaid, e3.assigned, e3.unassigned, e3.assignedToDisabled] == [5, 3, 2, 0])
        #expect(e3.inactive == [30: 2, 60: 2, 90: 2])
        let ems = try #require(bySku["EMS"]).seats
        #expect([ems.prepaid, ems.assigned, ems.unassigned, ems.assignedToDisabled] == [20, 2, 18, 1])
        #expect(ems.inactive == [30: 1, 60: 1, 90: 0])
    }

    @Test(
        "cost per column for priced SKUs, by skuPartNumber (any case) or skuId, totals per currency, unpriced SKUs without"
    )
    func reportCost() throws {
        let report = Self.report(try Self.tenant())
        let bySku = Dictionary(uniqueKeysWithValues: report.skus.map { ($0.sku, $0) })
        #expect(bySku["EMS"]?.monthlyCost == nil && bySku["EMS"]?.currency == nil)
        let e5 = try #require(bySku["SPE_E5"]?.monthlyCost)
        #expect(
            [e5.prepaid, e5.assigned, e5.unassigned, e5.assignedToDisabled!].map(\.description) == [
                "570.00", "342.00", "228.00", "57.00",
            ]
        )
        #expect(e5.inactive?.mapValues(\.description) == [30: "171.00", 60: "114.00", 90: "57.00"])
        let bi = try #require(bySku["POWER_BI_PRO"])
        #expect(bi.currency == "USD" && bi.monthlyPrice?.description == "9.99")
        #expect(bi.monthlyCost?.prepaid.description == "29.97")
        #expect(report.totals.map(\.currency) == ["EUR", "USD"])
        let euro = report.totals[0].monthlyCost
        #expect(
            [euro.prepaid, euro.assigned, euro.unassigned, euro.assignedToDisabled!].map(\.description) == [
                "750.00", "450.00", "300.00", "57.00",
            ]
        )
        #expect(euro.inactive?.mapValues(\.description) == [30: "243.00", 60: "186.00", 90: "129.00"])
        #expect(report.totals[1].monthlyCost.unassigned.description == "19.98")
        #expect(report.unmatchedPrices.isEmpty)

        var typo = Self.prices
        typo.prices.append(SkuPrice(sku: Reference("SPE_E55"), price: Price(monthly: Amount(1), currency: "EUR")))
        let withTypo = LicenseReport(
            tenant: try Self.tenant(),
            managedSkus: [],
            prices: typo,
            evaluatedAt: Self.evaluatedAt
        )
        #expect(withTypo.unmatchedPrices == ["SPE_E55"])
        #expect(withTypo.skus.allSatisfy { !$0.managed })
        #expect(
            ReportRenderer().text(withTypo).contains("prices: names SPE_E55, which the tenant does not subscribe to.")
        )
    }

    @Test("without sign-in activity the inactive columns are unknown, not zero")
    func reportWithoutActivity() throws {
        let report = Self.report(try Self.tenant(attributes: LicenseReport.attributes(withActivity: false)))
        #expect(!report.signInActivityRead)
        #expect(report.skus.allSatisfy { $0.seats.inactive == nil && $0.monthlyCost?.inactive == nil })
        #expect(report.totals.allSatisfy { $0.monthlyCost.inactive == nil })
        #expect(report.skus.last?.seats.assignedToDisabled == 1)
        let text = ReportRenderer().text(report)
        #expect(
            text.contains(
                "  SPE_E5            yes       10         6           4         1             -             -             -\n"
            )
        )
        #expect(text.contains("the inactive columns are unknown, not zero"))
        let markdown = ReportRenderer().markdown(report)
        #expect(markdown.contains("| SPE_E5 | yes | 10 | 6 | 4 | 1 | - | - | - |\n"))
    }

    @Test("text, Markdown and JSON show the same figures; money is an exact decimal string")
    func reportRendering() throws {
        let report = Self.report(try Self.tenant())
        let text = ReportRenderer().text(report)
        #expect(text.hasPrefix("License report as of 2026-12-07T00:00:00Z"))
        #expect(
            text.contains(
                "  SPE_E5            yes       10         6           4         1             3             2             1\n"
            )
        )
        #expect(
            text.contains(
                "  SPE_E5        57.00 EUR   570.00    342.00      228.00     57.00        171.00        114.00         57.00\n"
            )
        )
        #expect(
            text.contains(
                "  total               EUR   750.00    450.00      300.00     57.00        243.00        186.00        129.00\n"
            )
        )
        #expect(text.contains("No price for EMS: add it under prices: in allot.yaml to see its cost."))
        #expect(
            ReportRenderer().markdown(report).contains(
                "| total | USD | 29.97 | 9.99 | 19.98 | 0.00 | 9.99 | 9.99 | 9.99 |\n"
            )
        )

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = try #require(JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any])
        #expect(object["version"] as? Int == 1)
        #expect(object["evaluatedAt"] as? String == "2026-12-07T00:00:00Z")
        #expect(object["signInActivityRead"] as? Bool == true)
        let skus = try #require(object["skus"] as? [[String: Any]])
        let e5 = try #require(skus.last)
        #expect(e5["monthlyPrice"] as? String == "57.00")
        #expect((e5["seats"] as? [String: Any])?["inactive"] as? [String: Int] == ["30": 3, "60": 2, "90": 1])
        #expect((e5["monthlyCost"] as? [String: Any])?["assigned"] as? String == "342.00")
        #expect(skus.first?["monthlyCost"] == nil, "an unpriced SKU has no cost")
    }
}
