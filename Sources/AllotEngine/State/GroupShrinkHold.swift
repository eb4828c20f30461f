import AllotCore

/// The group shrink hold from one cycle to the next: compares each referenced group's
/// transitive user count with the one remembered in the state file and decides which groups
/// hold the removals they cause this cycle.
///
/// A group shrinks when its count drops to zero, or (for a group of at least
/// ``RemovalGuard/groupShrinkMinimumUsers`` users) by more than
/// `reconcile.guard.groupShrinkPercent` (``RemovalGuard/isShrink(from:to:)``). A shrink is
/// held until the smaller count has been read in ``confirmingReads`` cycles in a row (a read
/// that does not shrink the smaller count again confirms it; one that shrinks it again starts
/// over), or an operator passes `--allow-mass-removal`; either way the smaller count becomes
/// the new baseline. A count back above the shrink threshold ends the hold with nothing
/// removed. A group without a remembered count only sets its baseline: losing the state file
/// never holds, and never releases what was not confirmed.
public struct GroupShrinkHold: Sendable {
    /// The smaller count must be read in this many consecutive cycles before its removals go.
    public static let confirmingReads = 2

    public let rule: RemovalGuard
    /// `allot apply --allow-mass-removal`: release every shrink now.
    public let allowMassRemoval: Bool

    public init(rule: RemovalGuard, allowMassRemoval: Bool) {
        self.rule = rule
        self.allowMassRemoval = allowMassRemoval
    }

    /// What one cycle's read means for the hold.
    public struct Outcome: Sendable {
        /// The groups that shrank and whose smaller count this cycle read, held or released.
        public var shrinks: [CycleReport.GroupShrink]
        /// What to remember for the next cycle, in group order.
        public var remembered: [EngineState.GroupCount]

        /// The groups whose removals this cycle holds.
        public var heldGroups: Set<GUID> { Set(shrinks.filter(\.held).map(\.groupId)) }
    }

    /// Judges this cycle's counts (`counts[i]` users in `groups[i]`) against `remembered`.
    public func evaluate(groups: [GroupInfo], counts: [Int], remembered: [EngineState.GroupCount]) -> Outcome {
        let previous = Dictionary(remembered.map { ($0.group, $0) }) { $1 }
        var outcome = Outcome(shrinks: [], remembered: [])
        for (group, users) in zip(groups, counts) {
            guard let shrink = shrink(of: previous[group.id], now: users) else {
                outcome.remembered.append(EngineState.GroupCount(group: group.id, users: users))
                continue
            }
            let confirmed = shrink.cyclesSeen >= Self.confirmingReads
            let held = !confirmed && !allowMassRemoval
            outcome.shrinks.append(
                CycleReport.GroupShrink(
                    groupId: group.id,
                    displayName: group.displayName,
                    usersBefore: shrink.usersBefore,
                    usersNow: users,
                    cyclesSeen: shrink.cyclesSeen,
                    held: held,
                    overridden: !confirmed && allowMassRemoval
                )
            )
            outcome.remembered.append(
                EngineState.GroupCount(group: group.id, users: users, shrink: held ? shrink : nil)
            )
        }
        outcome.remembered.sort { $0.group < $1.group }
        return outcome
    }

    /// The shrink a read of `now` users continues or starts, or `nil` when the group has not shrunk.
    private func shrink(of previous: EngineState.GroupCount?, now: Int) -> EngineState.HeldShrink? {
        guard let previous else { return nil }
        guard let held = previous.shrink else {
            return rule.isShrink(from: previous.users, to: now)
                ? EngineState.HeldShrink(usersBefore: previous.users, cyclesSeen: 1) : nil
        }
        // Back to a size that is no shrink of the count before: the hold ends, nothing removed.
        guard rule.isShrink(from: held.usersBefore, to: now) else { return nil }
        // Shrunk again from the smaller count: the new count has to be confirmed from the start.
        if rule.isShrink(from: previous.users, to: now) {
            return EngineState.HeldShrink(usersBefore: held.usersBefore, cyclesSeen: 1)
        }
        return EngineState.HeldShrink(usersBefore: held.usersBefore, cyclesSeen: held.cyclesSeen + 1)
    }
}
