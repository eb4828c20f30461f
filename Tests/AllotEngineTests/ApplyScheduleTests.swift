import Foundation
import Testing

@testable import AllotCore
@testable import AllotEngine
@testable import AllotGraph

@Suite("Apply schedule: seat waves with Graph's answers")
struct ApplyScheduleTests {
    static let e3 = GUID("05e9a617-0261-4cee-bb44-138d3ef5d965")!
    static let e5 = GUID("06ebc4ee-1bb5-47dd-8120-11324bc54e06")!

    static func user(_ number: Int) -> GUID { GUID("00000000-0000-4000-8000-\(String(format: "%012d", number))")! }

    /// A change for user `number`: adds (SKU, priority), removals (SKU, frees a seat), an optional usage location.
    static func change(
        _ number: Int,
        adds: [(GUID, Int)] = [],
        removes: [(GUID, Bool)] = [],
        location: String? = nil
    ) -> UserChange {
        UserChange(
            userId: user(number),
            userPrincipalName: "user\(number)@contoso.com",
            setUsageLocation: location,
            assignLicense: adds.isEmpty && removes.isEmpty
                ? nil
                : AssignLicenseBody(
                    addLicenses: adds.map { AssignedLicense(skuId: $0.0) },
                    removeLicenses: removes.map(\.0)
                ),
            adds: adds.map {
                LicenseAdd(
                    sku: $0.0 == e3 ? "SPE_E3" : "SPE_E5",
                    skuId: $0.0,
                    disabledPlans: [],
                    enabledPlans: [],
                    policies: ["p"],
                    priority: $0.1
                )
            },
            planChanges: [],
            removals: removes.map {
                LicenseRemoval(
                    sku: $0.0 == e3 ? "SPE_E3" : "SPE_E5",
                    skuId: $0.0,
                    reason: .notGranted,
                    replacedBy: [],
                    freesSeat: $0.1
                )
            },
            policies: ["p"]
        )
    }

    /// Seats of E3 and E5 with `free` seats each at the read.
    static func seats(e3 free3: Int, e5 free5: Int) -> [SeatCount] {
        [
            SeatCount(
                sku: "SPE_E3",
                skuId: e3,
                prepaid: 10,
                consumedBefore: 10 - free3,
                consumedAfter: 0,
                availableBefore: free3,
                availableAfter: 0,
                deferredAdds: 0
            ),
            SeatCount(
                sku: "SPE_E5",
                skuId: e5,
                prepaid: 10,
                consumedBefore: 10 - free5,
                consumedAfter: 0,
                availableBefore: free5,
                availableAfter: 0,
                deferredAdds: 0
            ),
        ]
    }

    static func applied(_ writes: [GraphWrite]) -> [GraphWriteResult] {
        writes.map { GraphWriteResult(write: $0, outcome: .applied) }
    }

    static func failed(
        _ write: GraphWrite,
        _ kind: GraphWriteError.Kind,
        _ message: String = "refused"
    ) -> GraphWriteResult {
        GraphWriteResult(
            write: write,
            outcome: .failed(
                GraphWriteError(
                    kind: kind,
                    user: write.user,
                    operation: "POST /users/{id}/assignLicense",
                    status: 400,
                    code: "Request_BadRequest",
                    message: message,
                    clientRequestId: nil
                )
            )
        )
    }

    @Test(
        "a call that needs a seat waits for the answered call that frees it; a PATCH travels with its user's license call"
    )
    func waves() {
        var schedule = ApplySchedule(
            changes: [
                Self.change(1, adds: [(Self.e3, 10)], location: "US"), Self.change(2, removes: [(Self.e3, true)]),
                Self.change(3, adds: [(Self.e5, 0)]),
            ],
            seats: Self.seats(e3: 0, e5: 1)
        )
        let first = schedule.nextWave()
        #expect(first.calls == [1, 2])
        #expect(first.writes.map(\.user) == [Self.user(2), Self.user(3)])
        #expect(schedule.nextWave().calls.isEmpty, "user 1 waits for user 2's answer")
        schedule.record(Self.applied(first.writes), for: first.calls)
        let second = schedule.nextWave()
        #expect(second.calls == [0])
        #expect(second.writes.map(\.isUsageLocation) == [true, false], "PATCH first, then the license call")
        schedule.record(Self.applied(second.writes), for: second.calls)
        #expect(schedule.unsent.isEmpty)
        #expect(schedule.blocked().isEmpty)
    }

    @Test("a freeing call that failed blocks the calls that waited for its seat, and they name it")
    func failedFreeing() {
        var schedule = ApplySchedule(
            changes: [Self.change(1, removes: [(Self.e3, true)]), Self.change(2, adds: [(Self.e3, 5)])],
            seats: Self.seats(e3: 0, e5: 0)
        )
        let first = schedule.nextWave()
        #expect(first.calls == [0])
        schedule.record([Self.failed(first.writes[0], .other)], for: first.calls)
        #expect(schedule.nextWave().calls.isEmpty)
        let blocked = schedule.blocked()
        #expect(blocked.map(\.change.userId) == [Self.user(2)])
        #expect(blocked.first?.missing == [Self.e3])
        #expect(blocked.first?.failedFreeing.map(\.userId) == [Self.user(1)])
    }

    @Test("Graph refusing an add for lack of seats stops further adds of that SKU; a call not sent gives its seat back")
    func exhausted() {
        var schedule = ApplySchedule(
            changes: [
                Self.change(1, adds: [(Self.e3, 0)]), Self.change(2, adds: [(Self.e3, 0)]),
                Self.change(3, adds: [(Self.e5, 0)]),
            ],
            seats: Self.seats(e3: 1, e5: 1)
        )
        let first = schedule.nextWave()
        #expect(first.calls == [0, 2], "one E3 seat, one E5 seat")
        schedule.record(
            [
                Self.failed(
                    first.writes[0],
                    .noSeats,
                    "Subscription with SKU \(Self.e3) does not have any available licenses."
                ),
                GraphWriteResult(write: first.writes[1], outcome: .notSent),
            ],
            for: first.calls
        )
        let second = schedule.nextWave()
        #expect(
            second.calls.isEmpty,
            "no more E3 adds, though the refused call gave its reservation back; the E5 call was not sent"
        )
        #expect(
            schedule.unsent == [1],
            "the second E3 add never went out (the E5 call's own answer says it was not sent)"
        )
        #expect(schedule.blocked().first?.failedFreeing.isEmpty == true, "nobody failed to free it: the seat was taken")
    }
}
