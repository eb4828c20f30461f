import Testing

@testable import AllotCore

/// Seat waves (``SeatSchedule``) on their own, then as the planner uses them: a plan's calls
/// can always be sent so that Graph refuses none for lack of a seat.
@Suite("Seat waves")
struct SeatScheduleTests {
    static let e3 = 0
    static let visio = 1

    static func mask(_ skus: Int...) -> SkuMask {
        var mask = SkuMask()
        for sku in skus { mask.insert(sku) }
        return mask
    }

    @Test("a call waits until the seat it needs is freed by an answered call, and unlocks the next one")
    func chainOfWaves() {
        // A: adds Visio, frees E3. B: frees Visio. C: adds E3. No seat free at the read.
        var schedule = SeatSchedule(
            calls: [
                .init(needs: Self.mask(Self.visio), frees: Self.mask(Self.e3)),
                .init(needs: SkuMask(), frees: Self.mask(Self.visio)),
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
            ],
            available: [0, 0]
        )
        #expect(schedule.nextWave() == [1])
        #expect(schedule.nextWave().isEmpty, "nothing more until B is answered")
        schedule.succeeded(1)
        #expect(schedule.nextWave() == [0])
        schedule.succeeded(0)
        #expect(schedule.nextWave() == [2])
        #expect(schedule.waiting.isEmpty)
    }

    @Test("within a wave: calls that free seats first, then the order given (by user id); seats are reserved")
    func servingOrder() {
        var schedule = SeatSchedule(
            calls: [
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
                .init(needs: Self.mask(Self.e3), frees: Self.mask(Self.visio)),
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
            ],
            available: [2, 0]
        )
        #expect(schedule.nextWave() == [2, 0])
        #expect(schedule.waiting == [1, 3])
        #expect(schedule.missingSeats(of: 3) == Self.mask(Self.e3))
    }

    @Test("a failed call gives its seat back and frees nothing; an exhausted SKU stops its adds")
    func failures() {
        var schedule = SeatSchedule(
            calls: [
                .init(needs: Self.mask(Self.e3), frees: Self.mask(Self.visio)),
                .init(needs: Self.mask(Self.visio), frees: SkuMask()),
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
            ],
            available: [1, 0]
        )
        #expect(schedule.nextWave() == [0])
        schedule.failed(0)
        #expect(schedule.available == [1, 0], "the E3 seat is back, no Visio seat was freed")
        #expect(schedule.nextWave() == [2])
        schedule.exhausted(Self.e3)
        #expect(schedule.available[Self.e3] == 0)
        #expect(schedule.waiting == [1])
        #expect(schedule.missingSeats(of: 1) == Self.mask(Self.visio))
    }

    @Test("a seat cycle is found; calls waiting downstream of it are not on it")
    func cycles() {
        // A adds Visio, frees E3; B adds E3, frees Visio; C adds E3 and waits on the cycle.
        let schedule = SeatSchedule(
            calls: [
                .init(needs: Self.mask(Self.visio), frees: Self.mask(Self.e3)),
                .init(needs: Self.mask(Self.e3), frees: Self.mask(Self.visio)),
                .init(needs: Self.mask(Self.e3), frees: SkuMask()),
            ],
            available: [0, 0]
        )
        #expect(schedule.waitingOnCycles() == [0, 1])
        let noCycle = SeatSchedule(calls: [.init(needs: Self.mask(Self.e3), frees: SkuMask())], available: [0, 0])
        #expect(noCycle.waitingOnCycles().isEmpty)
    }

    // MARK: The planner

    static let visioSku = Fixture.sku(
        "VISIOCLIENT",
        "c5928f49-12ba-48f7-ada3-0d743a3601d5",
        prepaid: 1,
        consumed: 1,
        plans: []
    )

    @Test("the issue's case: A swaps E3 for Visio, B gives Visio up, C waits for E3: all three go, in three waves")
    func swapsAcrossSkus() throws {
        let e3 = Fixture.e3(prepaid: 1, consumed: 1)
        let tenant = try Fixture.tenant(
            skus: [e3, Self.visioSku],
            users: [
                Fixture.user(1, "a", licenses: [Fixture.direct(e3)], ["role": "architect"]),
                Fixture.user(2, "b", licenses: [Fixture.direct(Self.visioSku)], ["role": "leaver"]),
                Fixture.user(3, "c", ["role": "staff"]),
            ],
            attributes: ["role"]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("architects", match: Self.role("architect"), grants: [Fixture.grant("VISIOCLIENT")]),
                Fixture.policy("staff", match: Self.role("staff"), grants: [Fixture.grant("SPE_E3")]),
            ]
        )
        #expect(plan.deferred.isEmpty)
        var schedule = SeatSchedule(changes: plan.changes, seats: plan.seats)
        var waves: [[String]] = []
        while case let wave = schedule.nextWave(), !wave.isEmpty {
            waves.append(wave.map { plan.changes[$0].userPrincipalName })
            for call in wave { schedule.succeeded(call) }
        }
        #expect(waves == [["b@contoso.com"], ["a@contoso.com"], ["c@contoso.com"]])
    }

    @Test("a seat cycle with no spare seat: the lower-priority add is deferred (shown in the plan), the rest goes")
    func seatCycleDeferred() throws {
        let e3 = Fixture.e3(prepaid: 1, consumed: 1)
        let tenant = try Fixture.tenant(
            skus: [e3, Self.visioSku],
            users: [
                Fixture.user(1, "a", licenses: [Fixture.direct(e3)], ["role": "architect"]),
                Fixture.user(2, "b", licenses: [Fixture.direct(Self.visioSku)], ["role": "staff"]),
            ],
            attributes: ["role"]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy(
                    "architects",
                    priority: 10,
                    match: Self.role("architect"),
                    grants: [Fixture.grant("VISIOCLIENT")]
                ),
                Fixture.policy("staff", match: Self.role("staff"), grants: [Fixture.grant("SPE_E3")]),
            ]
        )
        #expect(plan.deferred.map(\.userPrincipalName) == ["b@contoso.com"])
        #expect(plan.deferred.first?.reason.hasPrefix("seat cycle") == true)
        // B's call now only gives Visio up; A's swap goes after it.
        #expect(plan.change(forUser: 2)?.assignLicense == AssignLicenseBody(removeLicenses: [Self.visioSku.skuId]))
        #expect(plan.change(forUser: 1)?.assignLicense?.addLicenses.map(\.skuId) == [Self.visioSku.skuId])
        #expect(plan.seats.map(\.deferredAdds) == [1, 0])
        #expect(plan.seats.map(\.consumedAfter) == [0, 1])
    }

    @Test(
        "when the deferred add on a cycle was a swap, the user keeps the old SKU; the add that waited on it is deferred too"
    )
    func swapOnCycle() throws {
        let e3 = Fixture.e3(prepaid: 1, consumed: 1)
        let e5 = Fixture.e5(prepaid: 1, consumed: 1)
        let tenant = try Fixture.tenant(
            skus: [e3, e5],
            users: [
                Fixture.user(1, "up", licenses: [Fixture.direct(e3)], ["role": "up"]),
                Fixture.user(2, "down", licenses: [Fixture.direct(e5)], ["role": "down"]),
            ],
            attributes: ["role"]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("up", match: Self.role("up"), grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])]),
                Fixture.policy("down", priority: 5, match: Self.role("down"), grants: [Fixture.grant("SPE_E3")]),
            ]
        )
        #expect(plan.change(forUser: 1) == nil, "up keeps E3 while its E5 waits")
        #expect(plan.change(forUser: 2)?.assignLicense == AssignLicenseBody(removeLicenses: [e5.skuId]))
        #expect(plan.deferred.map(\.userPrincipalName) == ["up@contoso.com", "down@contoso.com"])
    }

    static func role(_ value: String) -> Policy.Match {
        Policy.Match(attributes: [AttributeCondition(path: "role", operators: [.equals(.string(value))])])
    }
}
