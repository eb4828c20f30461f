/// Renders a ``LicenseReport`` (`allot report`) as text for people or as Markdown: one table of
/// seats per SKU, then one of their monthly cost for the priced SKUs with a total per currency.
/// A column that could not be read (sign-in activity, account state) shows `-` and a note says
/// why, so that an unknown is never read as a zero.
public struct ReportRenderer: Sendable {
    public init() {}

    public func text(_ report: LicenseReport) -> String {
        var out =
            "License report as of \(PolicyDates.text(report.evaluatedAt)): every subscribed SKU, nothing changed.\n\n"
        out += "Seats:\n" + TextTable.render(seatHeader, seatRows(report))
        let cost = costRows(report)
        if !cost.isEmpty {
            out += "\nMonthly cost (prices: in allot.yaml):\n" + TextTable.render(costHeader, cost)
        }
        for note in notes(report) { out += "\n" + note + "\n" }
        return out
    }

    public func markdown(_ report: LicenseReport) -> String {
        var out = "**Allot license report** as of \(PolicyDates.text(report.evaluatedAt)): every subscribed SKU.\n\n"
        out += Self.markdownTable(seatHeader, seatRows(report))
        let cost = costRows(report)
        if !cost.isEmpty {
            out += "\n**Monthly cost** (`prices:` in allot.yaml)\n\n" + Self.markdownTable(costHeader, cost)
        }
        for note in notes(report) { out += "\n> " + escapeMarkdown(note) + "\n" }
        return out
    }

    private var columnHeader: [String] {
        ["prepaid", "assigned", "unassigned", "disabled"] + LicenseReport.inactivityDays.map { "inactive \($0)d" }
    }
    private var seatHeader: [String] { ["SKU", "managed"] + columnHeader }
    private var costHeader: [String] { ["SKU", "price"] + columnHeader }

    private func cells<Value>(_ columns: UsageColumns<Value>, _ show: (Value) -> String) -> [String] {
        [
            show(columns.prepaid), show(columns.assigned), show(columns.unassigned),
            columns.assignedToDisabled.map(show) ?? "-",
        ]
            + LicenseReport.inactivityDays.map { days in columns.inactive?[days].map(show) ?? "-" }
    }

    private func seatRows(_ report: LicenseReport) -> [[String]] {
        report.skus.map { [$0.sku, $0.managed ? "yes" : "no"] + cells($0.seats) { "\($0)" } }
    }

    private func costRows(_ report: LicenseReport) -> [[String]] {
        let skus = report.skus.compactMap { sku -> [String]? in
            guard let cost = sku.monthlyCost, let price = sku.monthlyPrice, let currency = sku.currency else {
                return nil
            }
            return [sku.sku, "\(price) \(currency)"] + cells(cost) { "\($0)" }
        }
        return skus + report.totals.map { ["total", $0.currency] + cells($0.monthlyCost) { "\($0)" } }
    }

    private func notes(_ report: LicenseReport) -> [String] {
        var notes: [String] = []
        if !report.signInActivityRead {
            notes.append(
                "Sign-in activity was not read (--no-activity, or a snapshot without signInActivity.lastSuccessfulSignInDateTime): "
                    + "the inactive columns are unknown, not zero."
            )
        }
        if !report.accountEnabledRead {
            notes.append(
                "Whether accounts are enabled was not read (a snapshot without accountEnabled): the disabled column is unknown."
            )
        }
        let unpriced = report.skus.filter { $0.monthlyCost == nil }.map(\.sku)
        if !unpriced.isEmpty {
            let (them, their) = unpriced.count == 1 ? ("it", "its") : ("them", "their")
            notes.append(
                "No price for \(unpriced.joined(separator: ", ")): add \(them) under prices: in allot.yaml to see \(their) cost."
            )
        }
        if !report.unmatchedPrices.isEmpty {
            notes.append(
                "prices: names \(report.unmatchedPrices.joined(separator: ", ")), which the tenant does not subscribe to."
            )
        }
        if report.signInActivityRead {
            notes.append(
                "Inactive: assigned to users whose last successful sign-in is older than that, or who never signed in "
                    + "(disabled accounts included)."
            )
        }
        return notes
    }

    static func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
        var out =
            "| " + header.joined(separator: " | ") + " |\n|---|" + String(repeating: "--:|", count: header.count - 1)
            + "\n"
        for row in rows { out += "| " + row.map(escapeMarkdown).joined(separator: " | ") + " |\n" }
        return out
    }
}
