import Foundation
import Testing

@testable import AllotCore
@testable import AllotEngine

@Suite("Apply schedule: phases and the seat recount")
struct ApplyScheduleTests {
    static let e3 = GUID("05e9a617-0261-4cee-bb44-138d3ef5d965")!
    static let e5 = GUID("06ebc4ee-1bb5-47dd-8120-11324bc54e06")!

    static func user(_ number: Int) -> GUID { GUID("00000000-0000-4000-8000-\(String(format: "%012d", number))")! }

    /// A change for user `number`: adds (SKU, priority), removals (SKU, frees a seat), an optional usage location.
    static func change(_ number: Int, adds: [(GUID, Int)] = [], removes: [(GUID, Bool)] = [], location: String? = nil) -> UserChange {
        UserChange(
            userId: user(number), userPrincipalName: "user\(number)@contoso.com", setUsageLocation: location,
            assignLicense: adds.isEmpty && removes.isEmpty
                ? nil : AssignLicenseBody(addLicenses: adds.map { AssignedLicense(skuId: $0.0) }, removeLicenses: removes.map(\.0)),
            adds: adds.map { LicenseAdd(sku: $0.0 == e3 ? "SPE_E3" : "SPE_E5", skuId: $0.0, disabledPlans: [], enabledPlans: [], policies: ["p"], priority: $0.1) },
            planChanges: [],
            removals: removes.map { LicenseRemoval(sku: $0.0 == e3 ? "SPE_E3" : "SPE_E5", skuId: $0.0, reason: "notGranted", replacedBy: [], freesSeat: $0.1) },
            policies: ["p"])
    }

    @Test("PATCHes first, then the calls that remove, then adds by priority (ties by user id)")
    func phases() {
        let schedule = ApplySchedule(changes: [
            Self.change(1, adds: [(Self.e3, 10)]), Self.change(2, removes: [(Self.e3, true)]), Self.change(3, adds: [(Self.e5, 100)], location: "US"),
            Self.change(4, adds: [(Self.e3, 10)]), Self.change(5, location: "NL"),
        ])
        #expect(schedule.usageLocationWrites.map(\.user) == [Self.user(3), Self.user(5)])
        #expect(schedule.freeing.map(\.change.userId) == [Self.user(2)])
        let (calls, dropped) = schedule.addingCalls(afterFreeingFailedFor: [])
        #expect(calls.map(\.change.userId) == [Self.user(3), Self.user(1), Self.user(4)])
        #expect(dropped.isEmpty)
    }

    @Test("a user whose PATCH failed gets no license call")
    func failedUsageLocation() {
        var schedule = ApplySchedule(changes: [Self.change(1, adds: [(Self.e3, 10)], location: "US"), Self.change(2, adds: [(Self.e3, 10)])])
        schedule.usageLocationsApplied(failedUsers: [Self.user(1)])
        #expect(schedule.addingCalls(afterFreeingFailedFor: []).calls.map(\.change.userId) == [Self.user(2)])
    }

    @Test("a removal that failed freed no seat: the lowest-priority add of that SKU is dropped and reported")
    func removalFailed() {
        let schedule = ApplySchedule(changes: [
            Self.change(1, removes: [(Self.e3, true)]), Self.change(2, adds: [(Self.e3, 50)]), Self.change(3, adds: [(Self.e3, 10)]),
        ])
        let (calls, dropped) = schedule.addingCalls(afterFreeingFailedFor: [Self.user(1)])
        #expect(calls.map(\.change.userId) == [Self.user(2)])
        #expect(dropped.map(\.change.userId) == [Self.user(3)])
        #expect(dropped.map(\.sku) == [Self.e3])
    }

    @Test("a failed swap neither freed its seat nor took the other: adds of the freed SKU lose one seat, the other SKU none")
    func swapFailed() {
        let schedule = ApplySchedule(changes: [
            Self.change(1, adds: [(Self.e5, 100)], removes: [(Self.e3, true)]), Self.change(2, adds: [(Self.e3, 10)]),
            Self.change(3, adds: [(Self.e5, 10)]),
        ])
        let (calls, dropped) = schedule.addingCalls(afterFreeingFailedFor: [Self.user(1)])
        #expect(calls.map(\.change.userId) == [Self.user(3)], "the E5 seat user 1 did not take is still free")
        #expect(dropped.map(\.change.userId) == [Self.user(2)], "the E3 seat user 1 did not free is not there")
    }

    @Test("a removal that does not free a seat (a group still grants it) changes nothing when it fails")
    func removalWithoutSeat() {
        let schedule = ApplySchedule(changes: [Self.change(1, removes: [(Self.e3, false)]), Self.change(2, adds: [(Self.e3, 10)])])
        let (calls, dropped) = schedule.addingCalls(afterFreeingFailedFor: [Self.user(1)])
        #expect(calls.map(\.change.userId) == [Self.user(2)])
        #expect(dropped.isEmpty)
    }
}
