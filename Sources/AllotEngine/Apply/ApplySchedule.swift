import AllotCore
import AllotGraph

/// The order a plan's calls are sent in, and the seat recount between phases. Pure: it is
/// given results and returns the next writes, with no I/O.
///
/// 1. Usage-location PATCHes (a license cannot be added without one).
/// 2. Users whose call frees seats (it carries a removal; swaps go here, add and removal in
///    one call).
/// 3. The other users, highest add priority first (ties by user id).
///
/// Before phase 3 the seats are recounted from the results so far: a removal that failed did not
/// free its seat, a swap whose call failed did not take one. Adds that would now exceed the seats
/// are not sent (lowest priority first) and reported as deferred: no request is sent that is
/// known to fail. A user whose PATCH failed gets no license call (it would fail for the same
/// reason); the PATCH failure is reported.
struct ApplySchedule {
    /// A user's license call, with what it means for seats.
    struct LicenseCall {
        var change: UserChange
        var body: AssignLicenseBody
        /// SKUs (ids) whose direct removal frees a seat when the call succeeds.
        var freesSeats: Set<GUID>
    }

    private(set) var usageLocationWrites: [GraphWrite]
    private(set) var freeing: [LicenseCall]
    private var adding: [LicenseCall]

    init(changes: [UserChange]) {
        usageLocationWrites = changes.compactMap { change in
            change.setUsageLocation.map { GraphWrite.setUsageLocation(user: change.userId, code: $0) }
        }
        var freeing: [LicenseCall] = []
        var adding: [LicenseCall] = []
        for change in changes {
            guard let body = change.assignLicense else { continue }
            let frees = Set(change.removals.filter(\.freesSeat).map(\.skuId))
            let call = LicenseCall(change: change, body: body, freesSeats: frees)
            if body.removeLicenses.isEmpty { adding.append(call) } else { freeing.append(call) }
        }
        adding.sort { lhs, rhs in
            let left = lhs.change.adds.map(\.priority).max() ?? .min
            let right = rhs.change.adds.map(\.priority).max() ?? .min
            return left != right ? left > right : lhs.change.userId < rhs.change.userId
        }
        self.freeing = freeing
        self.adding = adding
    }

    /// Phase 1's results: users whose PATCH failed get no license call.
    mutating func usageLocationsApplied(failedUsers: Set<GUID>) {
        freeing.removeAll { failedUsers.contains($0.change.userId) }
        adding.removeAll { failedUsers.contains($0.change.userId) }
    }

    /// Phase 3's calls after the recount given phase 2's failed users, and the adds the
    /// recount dropped: (change, skuId).
    func addingCalls(afterFreeingFailedFor failedUsers: Set<GUID>) -> (calls: [LicenseCall], dropped: [(change: UserChange, sku: GUID)]) {
        // Seats phase 2 was expected to free but did not, minus seats its failed adds did not take.
        var shortfall: [GUID: Int] = [:]
        for call in freeing where failedUsers.contains(call.change.userId) {
            for sku in call.freesSeats { shortfall[sku, default: 0] += 1 }
            for add in call.change.adds { shortfall[add.skuId, default: 0] -= 1 }
        }
        var calls = adding
        var dropped: [(change: UserChange, sku: GUID)] = []
        for (sku, missing) in shortfall where missing > 0 {
            var toDrop = missing
            for index in calls.indices.reversed() where toDrop > 0 {
                guard calls[index].change.adds.contains(where: { $0.skuId == sku }) else { continue }
                dropped.append((calls[index].change, sku))
                calls[index].body.addLicenses.removeAll { $0.skuId == sku }
                toDrop -= 1
            }
        }
        return (calls.filter { !$0.body.addLicenses.isEmpty || !$0.body.removeLicenses.isEmpty }, dropped)
    }
}
