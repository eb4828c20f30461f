/// Renders an ``Explanation`` for people: each policy with the clause that decided it, what
/// the policies want, what the user holds, and the change the plan makes.
public struct ExplanationRenderer: Sendable {
    private let plan: PlanRenderer

    public init(colors: Bool = false) {
        plan = PlanRenderer(colors: colors)
    }

    public func render(_ explanation: Explanation) -> String {
        var out =
            plan.paint(explanation.userPrincipalName, .bold) + " (\(explanation.userId)), usage location "
            + (explanation.usageLocation ?? "not set") + "\n\n"
        out += plan.paint("Policies", .bold) + "\n"
        for verdict in explanation.policies {
            let mark = verdict.matched ? plan.paint("✓", .green) : plan.paint("✗", .red)
            let decidedBy =
                verdict.clauses.first { !$0.holds }.map { "  (decided by \($0.clause): \($0.detail))" } ?? ""
            out += "  \(mark) \(verdict.policy)\(verdict.matched ? "" : plan.paint(decidedBy, .dim))\n"
            for clause in verdict.clauses {
                out += "      \(clause.holds ? "+" : "-") \(clause.clause): \(clause.detail)\n"
            }
        }
        out += "\n" + plan.paint("Wanted (before seats)", .bold) + "\n"
        if explanation.desired.isEmpty { out += "  nothing: no matching policy grants a managed SKU\n" }
        for license in explanation.desired {
            let plans =
                license.disabledPlans.isEmpty
                ? "all plans" : "disabled: " + license.disabledPlans.joined(separator: ", ")
            let replaced =
                license.replacedBy.isEmpty ? "" : "  replaced by " + license.replacedBy.joined(separator: ", ")
            out += "  \(license.sku)  \(plans)  [\(license.policies.joined(separator: ", "))]\(replaced)\n"
        }
        out += "\n" + plan.paint("Holds", .bold) + "\n"
        if explanation.current.isEmpty { out += "  no licenses\n" }
        for license in explanation.current {
            let source =
                switch license.source {
                case .group: "group \(license.group.map(\.description) ?? "?") (\(license.state ?? "unknown state"))"
                case .direct, .unknown: license.source.rawValue
                }
            let plans =
                license.disabledPlans.isEmpty
                ? "all plans" : "disabled: " + license.disabledPlans.joined(separator: ", ")
            let error = license.error.map { "  error: \($0)" } ?? ""
            out +=
                "  \(license.sku)  \(source)  \(plans)\(license.managed ? "" : "  (not managed: never touched)")\(error)\n"
        }
        out += "\n" + plan.paint("Change", .bold) + "\n"
        if let change = explanation.change {
            out += plan.render(change)
        } else {
            out += "  none this cycle\n"
        }
        for add in explanation.deferred { out += "  ! \(add.sku) deferred: \(add.reason)\n" }
        if let skipped = explanation.skipped { out += "  ? skipped: \(skipped.detail)\n" }
        for removal in explanation.delayedRemovals {
            out +=
                "  … \(removal.sku) removal waits for removalDelay until \(PlanRenderer.timestamp(removal.removableFrom))\n"
        }
        for removal in explanation.heldRemovals { out += "  ‖ \(removal.sku) removal held: \(removal.reason)\n" }
        for held in explanation.heldThroughGroups {
            out += "  = \(held.sku) is held through group-based licensing and left as it is\n"
        }
        return out
    }
}
