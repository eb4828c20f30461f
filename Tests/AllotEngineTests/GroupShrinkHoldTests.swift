import Foundation
import Testing

@testable import AllotCore
@testable import AllotEngine

/// The engine's half of the group shrink hold: from one cycle's counts and the state file's,
/// which groups hold their removals, and what to remember.
@Suite("Group shrink hold across cycles")
struct GroupShrinkHoldTests {
    static let pmo = GroupInfo(id: GUID(high: 0x9, low: 1), displayName: "PMO")
    static let sales = GroupInfo(id: GUID(high: 0x9, low: 2), displayName: "Sales")
    let hold = GroupShrinkHold(rule: RemovalGuard(), allowMassRemoval: false)

    /// Runs the hold over successive counts of PMO, carrying the remembered state.
    func cycles(
        _ counts: [Int],
        hold: GroupShrinkHold? = nil,
        from remembered: [EngineState.GroupCount] = []
    ) -> [GroupShrinkHold.Outcome] {
        var remembered = remembered
        return counts.map { count in
            let outcome = (hold ?? self.hold).evaluate(groups: [Self.pmo], counts: [count], remembered: remembered)
            remembered = outcome.remembered
            return outcome
        }
    }

    @Test("the first count read is the baseline: no hold without one")
    func baseline() {
        let outcome = hold.evaluate(groups: [Self.pmo, Self.sales], counts: [0, 40], remembered: [])
        #expect(outcome.shrinks.isEmpty && outcome.heldGroups.isEmpty)
        #expect(
            outcome.remembered == [
                EngineState.GroupCount(group: Self.pmo.id, users: 0),
                EngineState.GroupCount(group: Self.sales.id, users: 40),
            ]
        )
    }

    @Test("emptied: held for one cycle, released when the next cycle reads the same count")
    func heldThenConfirmed() {
        let outcomes = cycles([40, 0, 0, 0])
        #expect(outcomes[0].shrinks.isEmpty)
        let first = outcomes[1]
        #expect(first.heldGroups == [Self.pmo.id])
        #expect(
            first.shrinks == [
                CycleReport.GroupShrink(
                    groupId: Self.pmo.id,
                    displayName: "PMO",
                    usersBefore: 40,
                    usersNow: 0,
                    cyclesSeen: 1,
                    held: true,
                    overridden: false
                )
            ]
        )
        #expect(
            first.remembered == [
                EngineState.GroupCount(
                    group: Self.pmo.id,
                    users: 0,
                    shrink: EngineState.HeldShrink(usersBefore: 40, cyclesSeen: 1)
                )
            ]
        )
        let second = outcomes[2]
        #expect(second.heldGroups.isEmpty)
        #expect(second.shrinks.map(\.cyclesSeen) == [2])
        #expect(second.shrinks.map(\.held) == [false])
        #expect(
            second.remembered == [EngineState.GroupCount(group: Self.pmo.id, users: 0)],
            "the smaller count is the new baseline"
        )
        #expect(outcomes[3].shrinks.isEmpty, "quiet afterwards")
    }

    @Test("a drop of more than groupShrinkPercent is held; a smaller one is not")
    func percentage() {
        #expect(cycles([100, 49]).last?.heldGroups == [Self.pmo.id])
        #expect(cycles([100, 50]).last?.shrinks.isEmpty == true)
        let strict = GroupShrinkHold(rule: RemovalGuard(groupShrinkPercent: 10), allowMassRemoval: false)
        #expect(cycles([100, 89], hold: strict).last?.heldGroups == [Self.pmo.id])
    }

    @Test("a group under 10 users shrinking is not held, unless it drops to zero")
    func smallGroups() {
        #expect(cycles([6, 2]).last?.shrinks.isEmpty == true)
        #expect(cycles([9, 1]).last?.shrinks.isEmpty == true)
        #expect(cycles([6, 0]).last?.heldGroups == [Self.pmo.id])
    }

    @Test("a count back to normal ends the hold with nothing released")
    func recovered() {
        let outcomes = cycles([40, 0, 39])
        #expect(outcomes[2].shrinks.isEmpty)
        #expect(outcomes[2].remembered == [EngineState.GroupCount(group: Self.pmo.id, users: 39)])
    }

    @Test("shrinking again from the smaller count starts the confirmation over; settling on it confirms")
    func shrinksFurther() {
        let outcomes = cycles([1000, 400, 5, 5])
        #expect(outcomes[1].shrinks.map(\.cyclesSeen) == [1])
        #expect(outcomes[2].heldGroups == [Self.pmo.id])
        #expect(outcomes[2].shrinks.map(\.usersBefore) == [1000], "measured from the count before the first shrink")
        #expect(outcomes[2].shrinks.map(\.cyclesSeen) == [1])
        #expect(outcomes[3].shrinks.map(\.held) == [false])
        // A few users more or less is the same smaller membership read again.
        #expect(cycles([1000, 400, 398]).last?.shrinks.map(\.held) == [false])
    }

    @Test("--allow-mass-removal releases a shrink at once and takes the smaller count as the baseline")
    func override() {
        let overriding = GroupShrinkHold(rule: RemovalGuard(), allowMassRemoval: true)
        let fresh = overriding.evaluate(
            groups: [Self.pmo],
            counts: [0],
            remembered: [EngineState.GroupCount(group: Self.pmo.id, users: 40)]
        )
        #expect(fresh.heldGroups.isEmpty)
        #expect(
            fresh.shrinks == [
                CycleReport.GroupShrink(
                    groupId: Self.pmo.id,
                    displayName: "PMO",
                    usersBefore: 40,
                    usersNow: 0,
                    cyclesSeen: 1,
                    held: false,
                    overridden: true
                )
            ]
        )
        #expect(fresh.remembered == [EngineState.GroupCount(group: Self.pmo.id, users: 0)])
        // A held shrink that shrinks again is released as well.
        let held = cycles([40, 15]).last!
        let released = overriding.evaluate(groups: [Self.pmo], counts: [0], remembered: held.remembered)
        #expect(released.heldGroups.isEmpty && released.shrinks.map(\.overridden) == [true])
        // The next cycle compares with the new baseline: quiet.
        #expect(hold.evaluate(groups: [Self.pmo], counts: [0], remembered: released.remembered).shrinks.isEmpty)
    }

    @Test("groups no longer referenced are forgotten")
    func forgotten() {
        let outcome = hold.evaluate(
            groups: [Self.sales],
            counts: [40],
            remembered: [
                EngineState.GroupCount(group: Self.pmo.id, users: 40),
                EngineState.GroupCount(group: Self.sales.id, users: 41),
            ]
        )
        #expect(outcome.remembered == [EngineState.GroupCount(group: Self.sales.id, users: 40)])
    }
}
