/// Renders a ``PolicyImpact`` for people: the changes the proposed policies cause (one block per
/// user, as `allot plan` prints them), what they withdraw, the deferrals they cause, the drift
/// present either way as totals, the guard with either policy set, and the seats per SKU.
public struct ImpactRenderer: Sendable {
    /// ANSI colours (only when writing to a terminal).
    public var colors: Bool
    /// List the drift user by user, not only as totals (`--show-drift`).
    public var showDrift: Bool

    public init(colors: Bool = false, showDrift: Bool = false) {
        self.colors = colors
        self.showDrift = showDrift
    }

    public func render(_ impact: PolicyImpact) -> String {
        let plan = PlanRenderer(colors: colors)
        let summary = impact.summary
        var out = ""
        let caused = impact.changes.compactMap { $0.parts(cause: .policy) }
        if caused.isEmpty {
            out += "The proposed policies change no user's licenses.\n"
        } else {
            out += plan.paint("Changes the proposed policies cause:", .bold) + "\n\n"
            for change in caused { out += plan.render(change) }
        }
        if !impact.withdrawn.isEmpty {
            out +=
                "\n" + plan.paint("Changes the base policies would make and the proposed ones do not:", .bold) + "\n\n"
            for change in impact.withdrawn { out += plan.render(change) }
        }
        if !impact.deferralsCaused.isEmpty {
            out += "\n" + plan.paint("Deferred for seats because of the change:", .bold) + "\n"
            for deferred in impact.deferralsCaused {
                out +=
                    "  " + plan.paint("!", .yellow)
                    + " \(deferred.userPrincipalName)  \(deferred.sku)  priority \(deferred.priority)\n"
            }
        }
        out += "\n" + plan.paint("Drift present with either policy set: ", .bold)
        out += "\(summary.usersWithDrift) \(plan.plural(summary.usersWithDrift, "user")) (\(summary.driftAdds) to add, "
        out +=
            "\(summary.driftRemovals) to remove, \(summary.driftPlanChanges) plan \(plan.plural(summary.driftPlanChanges, "change")))"
        if showDrift {
            out += ":\n\n"
            for change in impact.changes.compactMap({ $0.parts(cause: .drift) }) { out += plan.render(change) }
        } else {
            out += summary.usersWithDrift > 0 ? "; --show-drift lists them.\n" : ".\n"
        }
        let guardrail = impact.guardrail
        if guardrail.proposed.tripped, let reason = guardrail.proposed.reason {
            let before = guardrail.base.tripped ? "as it does with the base policies" : "because of this change"
            out += "\n" + plan.paint("Guard trips \(before): ", .red) + reason + "\n"
        } else if guardrail.base.tripped {
            out += "\nThe guard trips with the base policies and not with the proposed ones.\n"
        }
        out += "\n" + plan.paint("Impact: ", .bold)
        out +=
            "\(summary.usersChangedByPolicy) \(plan.plural(summary.usersChangedByPolicy, "user")) changed by the proposed policies "
        out +=
            "(\(summary.addsByPolicy) to add, \(summary.removalsByPolicy) to remove, \(summary.planChangesByPolicy) plan "
        out += "\(plan.plural(summary.planChangesByPolicy, "change"))), \(summary.usersWithdrawn) withdrawn, "
        out += "\(summary.deferralsCaused) \(plan.plural(summary.deferralsCaused, "deferral")) caused.\n"
        out += "\n" + seatTable(impact.seats, plan: plan)
        out += costTable(impact.cost, plan: plan)
        return out
    }

    /// The monthly cost of the priced SKUs now and with either policy set; nothing when none is priced.
    private func costTable(_ cost: CostImpact, plan: PlanRenderer) -> String {
        guard !cost.skus.isEmpty else { return "" }
        let header = ["SKU", "currency", "now", "after base", "after proposed", "change by policy"]
        let rows = (cost.skus + cost.totals).map { entry in
            [
                entry.sku ?? "total", entry.currency, "\(entry.monthlyNow)", "\(entry.monthlyAfterBase)",
                "\(entry.monthlyAfterProposed)",
                (entry.monthlyAfterProposed - entry.monthlyAfterBase).signed,
            ]
        }
        return "\n"
            + plan.paint("Monthly cost of the seats in use with either policy set (prices: in allot.yaml):", .bold)
            + "\n"
            + TextTable.render(header, rows)
    }

    private func seatTable(_ seats: [SeatImpact], plan: PlanRenderer) -> String {
        let header = [
            "SKU", "prepaid", "available", "after base", "after proposed", "deferred base", "deferred proposed",
        ]
        let rows = seats.map { seat in
            [
                seat.sku, "\(seat.prepaid)", "\(seat.availableNow)", "\(seat.availableAfterBase)",
                "\(seat.availableAfterProposed)",
                "\(seat.deferredBase)", "\(seat.deferredProposed)",
            ]
        }
        return plan.paint("Seats with either policy set:", .bold) + "\n" + TextTable.render(header, rows)
    }
}

extension UserChange {
    /// This change with only the parts of one cause, or `nil` when it has none.
    public func parts(cause: ChangeCause) -> UserChange? {
        var parts = self
        parts.adds = adds.filter { $0.cause == cause }
        parts.planChanges = planChanges.filter { $0.cause == cause }
        parts.removals = removals.filter { $0.cause == cause }
        let hasLicenseParts = !parts.adds.isEmpty || !parts.planChanges.isEmpty || !parts.removals.isEmpty
        if !hasLicenseParts {
            // A change that only sets a usage location has the cause of the change as a whole.
            let locationOnly = setUsageLocation != nil && adds.isEmpty && planChanges.isEmpty && removals.isEmpty
            guard locationOnly, self.cause == cause else { return nil }
        }
        return parts
    }
}
