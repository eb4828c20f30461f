/// Renders a plan or a policy impact as GitHub-flavoured Markdown for a pull-request comment
/// (`allot plan --output markdown`, docs/gitops.md): a summary line, the seat table, the changes
/// grouped by the policy responsible in collapsible sections, then the drift.
///
/// The result always fits `limit` (GitHub refuses comments over 65,536 characters; the limit is
/// counted in UTF-8 bytes, which is never fewer than characters). When the changes do not fit,
/// sections are cut between rows, never inside a table row or an open section, and say how many
/// rows they leave out.
public struct MarkdownRenderer: Sendable {
    /// GitHub's limit on the body of an issue or pull-request comment.
    public static let gitHubCommentLimit = 65_536

    public var limit: Int

    public init(limit: Int = MarkdownRenderer.gitHubCommentLimit) {
        self.limit = limit
    }

    /// A plan on its own: every change grouped by the policies that match the user.
    public func render(_ plan: Plan) -> String {
        let changes = plan.changes
        let rows = changes.flatMap { change in Self.rows(of: change, cause: nil) }
        let title =
            changes.isEmpty
            ? "**Allot plan:** no changes. The tenant matches the policies."
            : "**Allot plan:** \(PlanRenderer().summaryLine(plan.summary))"
        var document = Document(limit: limit)
        document.append(title + "\n\n" + seatTable(plan.seats) + costTable(plan.cost) + guardLine(plan.guardrail))
        document.appendGroups(Self.grouped(rows), reserve: 200)
        document.appendPending(plan)
        return document.text
    }

    /// The effect of a policy change: what the proposed policies cause, grouped by policy, then
    /// the drift present with either policy set.
    public func render(_ impact: PolicyImpact) -> String {
        let summary = impact.summary
        var title = "**Allot policy impact:** "
        title +=
            summary.usersChangedByPolicy == 0 && summary.usersWithdrawn == 0
            ? "this change alters no user's licenses."
            : "\(summary.usersChangedByPolicy) \(plural(summary.usersChangedByPolicy, "user")) changed by this policy change "
                + "(\(summary.addsByPolicy) to add, \(summary.removalsByPolicy) to remove, \(summary.planChangesByPolicy) plan "
                + "\(plural(summary.planChangesByPolicy, "change")))"
                + (summary.usersWithdrawn > 0
                    ? ", \(summary.usersWithdrawn) planned \(plural(summary.usersWithdrawn, "change")) withdrawn" : "")
                + "."
        title += " Drift present either way: \(summary.usersWithDrift) \(plural(summary.usersWithDrift, "user"))."
        if summary.deferralsCaused > 0 {
            title += " **\(summary.deferralsCaused) \(plural(summary.deferralsCaused, "add")) deferred for seats.**"
        }
        var head = title + "\n\n" + impactSeatTable(impact.seats) + impactCostTable(impact.cost)
        if summary.guardTrippedByChange, let reason = impact.guardrail.proposed.reason {
            head += "\n> [!WARNING]\n> The mass-removal guard trips with this change: \(escapeMarkdown(reason))\n"
        } else {
            head += guardLine(impact.guardrail.proposed)
        }
        var document = Document(limit: limit)
        document.append(head)
        let policyRows = impact.changes.flatMap { Self.rows(of: $0, cause: .policy) }
        let withdrawnRows = impact.withdrawn.flatMap { Self.rows(of: $0, cause: .policy, withdrawn: true) }
        document.appendGroups(Self.grouped(policyRows + withdrawnRows), reserve: 600)
        let driftRows = impact.changes.flatMap { Self.rows(of: $0, cause: .drift) }
        if !driftRows.isEmpty {
            document.append(
                "\n**Drift** (planned with either policy set, not caused by this change): \(summary.usersWithDrift) "
                    + "\(plural(summary.usersWithDrift, "user")), \(summary.driftAdds) to add, \(summary.driftRemovals) to remove, "
                    + "\(summary.driftPlanChanges) plan \(plural(summary.driftPlanChanges, "change")).\n"
            )
            document.appendGroups([Group(title: "Drift", rows: driftRows)], reserve: 200)
        }
        document.appendPending(impact.proposed)
        return document.text
    }

    /// One table row: a user and one part of their change.
    struct Row {
        var user: String
        var change: String
        var detail: String
        /// The policies responsible (the group the row is shown under).
        var policies: [String]
    }

    /// A collapsible section of rows.
    struct Group {
        var title: String
        var rows: [Row]
    }

    static func rows(of change: UserChange, cause: ChangeCause?, withdrawn: Bool = false) -> [Row] {
        let user = change.userPrincipalName
        let prefix = withdrawn ? "no longer " : ""
        var rows: [Row] = []
        // A usage location is set for the license calls it precedes; an impact shows those calls.
        if let location = change.setUsageLocation, cause == nil {
            rows.append(
                Row(user: user, change: prefix + "@ usageLocation", detail: location, policies: change.policies)
            )
        }
        for add in change.adds where cause == nil || add.cause == cause {
            let plans =
                add.disabledPlans.isEmpty ? "all plans" : "disabled: " + add.disabledPlans.joined(separator: ", ")
            rows.append(Row(user: user, change: prefix + "+ " + add.sku, detail: plans, policies: add.policies))
        }
        for planChange in change.planChanges where cause == nil || planChange.cause == cause {
            var detail: [String] = []
            if !planChange.enable.isEmpty { detail.append("enable " + planChange.enable.joined(separator: ", ")) }
            if !planChange.disable.isEmpty { detail.append("disable " + planChange.disable.joined(separator: ", ")) }
            rows.append(
                Row(
                    user: user,
                    change: prefix + "~ " + planChange.sku,
                    detail: detail.joined(separator: "; "),
                    policies: planChange.policies
                )
            )
        }
        for removal in change.removals where cause == nil || removal.cause == cause {
            let replacing = change.adds.filter { removal.replacedBy.contains($0.sku) }.flatMap(\.policies)
            let responsible = removal.reason == .replaced ? replacing : removal.grantedBefore ?? []
            let why =
                removal.reason == .replaced
                ? "replaced by " + removal.replacedBy.joined(separator: ", ") : "no matching policy grants it"
            rows.append(
                Row(
                    user: user,
                    change: prefix + "- " + removal.sku,
                    detail: why,
                    policies: Array(Set(responsible)).sorted()
                )
            )
        }
        return rows
    }

    /// Rows grouped by the policies responsible, groups in name order.
    static func grouped(_ rows: [Row]) -> [Group] {
        Dictionary(grouping: rows) { $0.policies.isEmpty ? "(no policy)" : $0.policies.joined(separator: ", ") }
            .map { Group(title: $0.key, rows: $0.value) }
            .sorted { $0.title < $1.title }
    }

    private func seatTable(_ seats: [SeatCount]) -> String {
        guard !seats.isEmpty else { return "" }
        var table =
            "| SKU | prepaid | available now | available after | seats added | seats freed | deferred |\n|---|--:|--:|--:|--:|--:|--:|\n"
        for seat in seats {
            table +=
                "| \(escapeMarkdown(seat.sku)) | \(seat.prepaid) | \(seat.availableBefore) | \(seat.availableAfter) | \(seat.seatsAdded) | "
            table += "\(seat.seatsFreed) | \(seat.deferredAdds) |\n"
        }
        return table
    }

    /// The monthly cost of the priced SKUs before and after, a total per currency.
    private func costTable(_ cost: PlanCost) -> String {
        guard !cost.skus.isEmpty else { return "" }
        var table = "\n| monthly cost | price | before | after |\n|---|--:|--:|--:|\n"
        for sku in cost.skus {
            table +=
                "| \(escapeMarkdown(sku.sku)) | \(sku.monthlyPrice) \(sku.currency) | \(sku.monthlyBefore) | \(sku.monthlyAfter) |\n"
        }
        for total in cost.totals {
            table += "| **total \(total.currency)** | | **\(total.monthlyBefore)** | **\(total.monthlyAfter)** |\n"
        }
        return table
    }

    private func impactSeatTable(_ seats: [SeatImpact]) -> String {
        guard !seats.isEmpty else { return "" }
        var table =
            "| SKU | prepaid | available now | after (base) | after (this change) | deferred (base → this change) |\n"
        table += "|---|--:|--:|--:|--:|--:|\n"
        for seat in seats {
            table +=
                "| \(escapeMarkdown(seat.sku)) | \(seat.prepaid) | \(seat.availableNow) | \(seat.availableAfterBase) | "
            table += "\(seat.availableAfterProposed) | \(seat.deferredBase) → \(seat.deferredProposed) |\n"
        }
        return table
    }

    /// What the seats in use cost a month with either policy set, and what the change adds or saves.
    private func impactCostTable(_ cost: CostImpact) -> String {
        guard !cost.skus.isEmpty else { return "" }
        var table = "\n| monthly cost | now | after (base) | after (this change) | change |\n|---|--:|--:|--:|--:|\n"
        for entry in cost.skus + cost.totals {
            let name = entry.sku.map(escapeMarkdown) ?? "**total**"
            table +=
                "| \(name) \(entry.currency) | \(entry.monthlyNow) | \(entry.monthlyAfterBase) | \(entry.monthlyAfterProposed) | "
            table += "\((entry.monthlyAfterProposed - entry.monthlyAfterBase).signed) |\n"
        }
        return table
    }

    private func guardLine(_ outcome: GuardOutcome) -> String {
        guard outcome.tripped, let reason = outcome.reason else { return "" }
        return "\n> [!WARNING]\n> The mass-removal guard trips: \(escapeMarkdown(reason))\n"
    }

    /// A Markdown document that never grows past its limit.
    struct Document {
        let limit: Int
        private(set) var text = ""

        init(limit: Int) {
            self.limit = limit
        }

        private var size: Int { text.utf8.count }

        /// Appends `part` whole, or nothing when it does not fit.
        mutating func append(_ part: String) {
            if size + part.utf8.count <= limit { text += part }
        }

        /// Appends collapsible sections of rows, cut between rows so that `reserve` bytes are left
        /// for what follows; what is cut is counted in a closing note.
        mutating func appendGroups(_ groups: [Group], reserve: Int) {
            let budget = limit - reserve
            var omittedRows = 0
            var omittedGroups = 0
            for group in groups {
                let open =
                    "\n<details><summary>\(escapeMarkdown(group.title)): \(group.rows.count) \(plural(group.rows.count, "change"))</summary>\n\n"
                    + "| User | Change | Detail |\n|---|---|---|\n"
                let close = "</details>\n"
                let cutNote = "\n_… and 9999999 more not shown (see `allot plan --output json`)._\n"
                guard size + open.utf8.count + close.utf8.count + cutNote.utf8.count <= budget else {
                    omittedGroups += 1
                    omittedRows += group.rows.count
                    continue
                }
                var section = open
                var shown = 0
                for row in group.rows {
                    let line =
                        "| \(escapeMarkdown(row.user)) | \(escapeMarkdown(row.change)) | \(escapeMarkdown(row.detail)) |\n"
                    if size + section.utf8.count + line.utf8.count + close.utf8.count + cutNote.utf8.count > budget {
                        break
                    }
                    section += line
                    shown += 1
                }
                if shown < group.rows.count {
                    section +=
                        "\n_… and \(group.rows.count - shown) more not shown (see `allot plan --output json`)._\n"
                }
                text += section + close
            }
            if omittedGroups > 0 {
                append(
                    "\n_\(omittedGroups) more \(plural(omittedGroups, "section")) (\(omittedRows) \(plural(omittedRows, "change"))) not shown: the comment limit was reached. See `allot plan --output json`._\n"
                )
            }
        }

        /// One line each for what the plan holds back: deferred adds, delayed and held removals.
        mutating func appendPending(_ plan: Plan) {
            var parts: [String] = []
            if plan.summary.deferredAdds > 0 {
                parts.append(
                    "\(plan.summary.deferredAdds) \(plural(plan.summary.deferredAdds, "add")) deferred for seats"
                )
            }
            if plan.summary.delayedRemovals > 0 {
                parts.append(
                    "\(plan.summary.delayedRemovals) \(plural(plan.summary.delayedRemovals, "removal")) waiting for removalDelay"
                )
            }
            if plan.summary.heldRemovals > 0 {
                parts.append(
                    "\(plan.summary.heldRemovals) \(plural(plan.summary.heldRemovals, "removal")) held (a group shrank)"
                )
            }
            if plan.summary.skippedUsers > 0 {
                parts.append("\(plan.summary.skippedUsers) \(plural(plan.summary.skippedUsers, "user")) skipped")
            }
            if !parts.isEmpty { append("\nPending: " + parts.joined(separator: ", ") + ".\n") }
        }
    }
}

/// Escapes text for a Markdown table cell or summary: pipes, angle brackets, and line breaks.
func escapeMarkdown(_ text: String) -> String {
    var escaped = ""
    for character in text {
        switch character {
        case "|": escaped += "\\|"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\n", "\r": escaped += " "
        default: escaped.append(character)
        }
    }
    return escaped
}

private func plural(_ count: Int, _ word: String) -> String { count == 1 ? word : word + "s" }
