import Foundation

/// Renders a ``Plan`` for people, like `terraform plan`: one block per changed user (`+` add,
/// `-` remove, `~` plan change, `@` usage location), the policies responsible, then what was
/// deferred, skipped or held back (removal delay, group shrink), the guard, the totals and the
/// seats per SKU.
public struct PlanRenderer: Sendable {
    /// ANSI colours (only when writing to a terminal).
    public var colors: Bool

    public init(colors: Bool = false) {
        self.colors = colors
    }

    public func render(_ plan: Plan) -> String {
        var out = ""
        let changes = plan.changes
        if changes.isEmpty {
            out +=
                plan.isPending
                ? "No request to send this cycle; the changes below are pending.\n"
                : "No changes. The tenant matches the policies.\n"
        } else {
            out += "Allot will make these changes:\n\n"
            for change in changes { out += render(change) }
        }
        out += userLines(
            "Deferred: no seat left",
            mark: "!",
            plan.deferred.map {
                ($0.userPrincipalName, "\($0.sku)  priority \($0.priority)  \($0.policies.joined(separator: ", "))")
            }
        )
        if !plan.skipped.isEmpty {
            out += "\n" + paint("Skipped this cycle", .bold) + "\n"
            for user in plan.skipped {
                out += "  " + paint("?", .yellow) + " \(user.userPrincipalName): \(user.detail)\n"
            }
        }
        if !plan.delayedRemovals.isEmpty {
            out += "\n" + paint("Removals waiting for removalDelay", .bold) + "\n"
            for removal in plan.delayedRemovals {
                out +=
                    "  " + paint("…", .yellow)
                    + " \(removal.userPrincipalName)  \(removal.sku)  removable from \(Self.timestamp(removal.removableFrom))\n"
            }
        }
        let held = plan.heldRemovals
        let shrinkHeld = held.filter { $0.heldBy == .groupShrink }
        if !shrinkHeld.isEmpty {
            out += userLines(
                "Removals held: a group shrank suddenly",
                mark: "‖",
                shrinkHeld.map { ($0.userPrincipalName, "\($0.sku)  \($0.policies.joined(separator: ", "))") }
            )
            out +=
                "  Held until the smaller membership is read again next cycle, or an operator runs `allot apply --allow-mass-removal`.\n"
        }
        out += userLines(
            "Removals held: the mass-removal guard tripped",
            mark: "‖",
            held.filter { $0.heldBy == .massRemovalGuard }.map { ($0.userPrincipalName, $0.sku) }
        )
        if plan.guardrail.tripped, let reason = plan.guardrail.reason {
            out +=
                "\n" + paint(plan.guardrail.overridden ? "Guard overridden: " : "Guard tripped: ", .red) + reason + "\n"
        }
        if plan.summary.heldThroughGroups > 0 {
            out +=
                "\n\(plan.summary.heldThroughGroups) wanted licenses are held only through group-based licensing; they are left as they are (see --output json, `heldThroughGroups`).\n"
        }
        out += "\n" + paint("Plan: ", .bold) + summaryLine(plan.summary) + "\n"
        out += "\n" + seatTable(plan.seats)
        out += costTable(plan.cost)
        return out
    }

    func render(_ change: UserChange) -> String {
        let symbol: String =
            change.planChanges.isEmpty && change.removals.isEmpty
            ? paint("+", .green)
            : change.planChanges.isEmpty && change.adds.isEmpty ? paint("-", .red) : paint("~", .yellow)
        var lines: [(String, String, String, String)] = []
        for add in change.adds {
            let plans =
                add.disabledPlans.isEmpty
                ? "all plans"
                : add.enabledPlans.count < add.disabledPlans.count
                    ? "only: " + add.enabledPlans.joined(separator: ", ")
                    : "disabled: " + add.disabledPlans.joined(separator: ", ")
            lines.append((paint("+", .green), add.sku, plans, add.policies.joined(separator: ", ")))
        }
        for planChange in change.planChanges {
            var detail: [String] = []
            if !planChange.enable.isEmpty { detail.append("enable " + planChange.enable.joined(separator: ", ")) }
            if !planChange.disable.isEmpty { detail.append("disable " + planChange.disable.joined(separator: ", ")) }
            let text =
                planChange.enable.count + planChange.disable.count > planChange.enabledPlans.count
                ? "now only: " + planChange.enabledPlans.joined(separator: ", ") : detail.joined(separator: "; ")
            lines.append((paint("~", .yellow), planChange.sku, text, planChange.policies.joined(separator: ", ")))
        }
        for removal in change.removals {
            let why =
                switch removal.reason {
                case .replaced: "replaced by " + removal.replacedBy.joined(separator: ", ")
                case .notGranted: "no matching policy grants it"
                }
            lines.append((paint("-", .red), removal.sku, why, ""))
        }
        var out = "  \(symbol) \(paint(change.userPrincipalName, .bold)) (\(change.userId))\n"
        if let location = change.setUsageLocation {
            out += "      \(paint("@", .yellow)) usageLocation: (none) -> \(location)\n"
        }
        let skuWidth = lines.map(\.1.count).max() ?? 0
        let detailWidth = lines.map(\.2.count).max() ?? 0
        for (mark, sku, detail, policies) in lines {
            let tail = policies.isEmpty ? "" : "  " + paint(policies, .dim)
            out += "      \(mark) \(pad(sku, skuWidth))  \(pad(detail, policies.isEmpty ? 0 : detailWidth))\(tail)\n"
        }
        return out
    }

    /// A titled section of one line per user (names aligned), or nothing when there are no rows.
    private func userLines(_ title: String, mark: String, _ rows: [(user: String, detail: String)]) -> String {
        guard !rows.isEmpty else { return "" }
        let width = rows.map(\.user.count).max() ?? 0
        return "\n" + paint(title, .bold) + "\n"
            + rows.map { "  " + paint(mark, .yellow) + " \(pad($0.user, width))  \($0.detail)\n" }.joined()
    }

    func summaryLine(_ summary: Plan.Summary) -> String {
        var parts = [
            "\(summary.usersChanged) \(plural(summary.usersChanged, "user")) to change",
            "\(summary.adds) to add", "\(summary.removals) to remove",
            "\(summary.planChanges) plan \(plural(summary.planChanges, "change"))",
        ]
        if summary.usageLocationUpdates > 0 {
            parts.append(
                "\(summary.usageLocationUpdates) usage \(plural(summary.usageLocationUpdates, "location")) to set"
            )
        }
        if summary.deferredAdds > 0 {
            parts.append("\(summary.deferredAdds) \(plural(summary.deferredAdds, "add")) deferred")
        }
        if summary.skippedUsers > 0 {
            parts.append("\(summary.skippedUsers) \(plural(summary.skippedUsers, "user")) skipped")
        }
        if summary.delayedRemovals > 0 {
            parts.append("\(summary.delayedRemovals) \(plural(summary.delayedRemovals, "removal")) delayed")
        }
        if summary.heldRemovals > 0 {
            parts.append("\(summary.heldRemovals) \(plural(summary.heldRemovals, "removal")) held")
        }
        return parts.joined(separator: ", ")
            + ". (\(summary.usersRead) users read, \(summary.usersInScope) in scope, \(summary.usersDrifted) drifted.)"
    }

    func seatTable(_ seats: [SeatCount]) -> String {
        let header = ["SKU", "prepaid", "consumed", "available", "after", "change", "adds", "frees", "deferred"]
        let rows = seats.map { seat in
            [
                seat.sku, "\(seat.prepaid)", "\(seat.consumedBefore)", "\(seat.availableBefore)",
                "\(seat.consumedAfter)",
                signed(seat.consumedAfter - seat.consumedBefore), "\(seat.seatsAdded)", "\(seat.seatsFreed)",
                "\(seat.deferredAdds)",
            ]
        }
        return paint("Seats (consumed before and after the plan):", .bold) + "\n" + TextTable.render(header, rows)
    }

    /// The monthly cost of the priced SKUs (`prices:`) before and after, with a total per
    /// currency; nothing when no managed SKU is priced.
    func costTable(_ cost: PlanCost) -> String {
        guard !cost.skus.isEmpty else { return "" }
        let header = ["SKU", "price", "before", "after", "change"]
        var rows = cost.skus.map { sku in
            [
                sku.sku, "\(sku.monthlyPrice) \(sku.currency)", "\(sku.monthlyBefore)", "\(sku.monthlyAfter)",
                (sku.monthlyAfter - sku.monthlyBefore).signed,
            ]
        }
        rows += cost.totals.map { total in
            [
                "total", total.currency, "\(total.monthlyBefore)", "\(total.monthlyAfter)",
                (total.monthlyAfter - total.monthlyBefore).signed,
            ]
        }
        return "\n" + paint("Monthly cost of the seats in use (prices: in allot.yaml):", .bold) + "\n"
            + TextTable.render(header, rows)
    }

    private func signed(_ delta: Int) -> String { delta > 0 ? "+\(delta)" : "\(delta)" }

    static func timestamp(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33"
    }

    func paint(_ text: String, _ style: Style) -> String {
        colors ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    func plural(_ count: Int, _ word: String) -> String { count == 1 ? word : word + "s" }
}
