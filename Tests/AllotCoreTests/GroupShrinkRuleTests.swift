import Testing

@testable import AllotCore

@Suite("Removal guard: what a sudden shrink is")
struct GroupShrinkRuleTests {
    @Test(
        "zero always; more than groupShrinkPercent for groups of 10 or more",
        arguments: [
            (100, 0, 50.0, true), (5, 0, 50.0, true), (1, 0, 50.0, true), (0, 0, 50.0, false),
            (10, 4, 50.0, true), (10, 5, 50.0, false), (100, 49, 50.0, true), (100, 50, 50.0, false),
            (9, 1, 50.0, false), (6, 2, 50.0, false), (100, 120, 50.0, false),
            (100, 99, 0.0, true), (100, 100, 0.0, false), (100, 1, 100.0, false), (100, 0, 100.0, true),
        ]
    )
    func rule(before: Int, now: Int, percent: Double, shrunk: Bool) {
        #expect(RemovalGuard(groupShrinkPercent: percent).isShrink(from: before, to: now) == shrunk)
    }
}
