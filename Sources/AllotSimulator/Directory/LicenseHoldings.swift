import AllotCore

/// What one user holds: every source of every SKU, with the two Graph properties derived from it
/// already written as JSON.
///
/// Users share records: a tenant of a million users has a few hundred distinct holdings.
struct HoldingRecord: Sendable {
    /// One entry per source of each SKU, sorted by SKU then group (direct first).
    let states: [LicenseAssignmentState]
    /// Graph's `assignedLicenses`: one entry per SKU held, its disabled plans the intersection
    /// over the sources that hold it (the union of enabled plans, as Entra combines them).
    let assigned: [AssignedLicense]
    /// The SKUs held (each consumes one seat, however many sources grant it).
    let held: [GUID]
    let assignedJSON: [UInt8]
    let statesJSON: [UInt8]

    init(states unsorted: [LicenseAssignmentState]) {
        let states = HoldingRecord.normalized(unsorted)
        self.states = states
        let assigned = HoldingRecord.assignedLicenses(from: states)
        self.assigned = assigned
        held = assigned.map(\.skuId)

        var writer = JSONWriter(capacity: 64 + assigned.count * 96)
        writer.byte(UInt8(ascii: "["))
        var first = true
        for license in assigned {
            writer.comma(&first)
            writer.raw("{\"disabledPlans\":")
            writer.guids(license.disabledPlans)
            writer.raw(",\"skuId\":")
            writer.guid(license.skuId)
            writer.byte(UInt8(ascii: "}"))
        }
        writer.byte(UInt8(ascii: "]"))
        assignedJSON = writer.bytes

        writer = JSONWriter(capacity: 64 + states.count * 160)
        writer.byte(UInt8(ascii: "["))
        first = true
        for state in states {
            writer.comma(&first)
            writer.raw("{\"assignedByGroup\":")
            if let group = state.assignedByGroup { writer.guid(group) } else { writer.null() }
            writer.raw(",\"disabledPlans\":")
            writer.guids(state.disabledPlans)
            writer.raw(",\"error\":")
            writer.string(state.error ?? "None")
            writer.raw(",\"skuId\":")
            writer.guid(state.skuId)
            writer.raw(",\"state\":")
            writer.optionalString(state.state)
            writer.byte(UInt8(ascii: "}"))
        }
        writer.byte(UInt8(ascii: "]"))
        statesJSON = writer.bytes
    }

    /// Graph's `assignedLicenses` for normalized states: one entry per SKU held, disabled plans
    /// intersected over the sources that hold it.
    static func assignedLicenses(from states: [LicenseAssignmentState]) -> [AssignedLicense] {
        var assigned: [AssignedLicense] = []
        for state in states where state.holds {
            if let last = assigned.last, last.skuId == state.skuId {
                let kept = Set(state.disabledPlans)
                assigned[assigned.count - 1].disabledPlans = last.disabledPlans.filter { kept.contains($0) }
            } else {
                assigned.append(AssignedLicense(skuId: state.skuId, disabledPlans: state.disabledPlans))
            }
        }
        return assigned
    }

    /// Sorted, with each entry's plans sorted and unique.
    static func normalized(_ states: [LicenseAssignmentState]) -> [LicenseAssignmentState] {
        states
            .map {
                LicenseAssignmentState(
                    skuId: $0.skuId,
                    disabledPlans: sortedUnique($0.disabledPlans),
                    assignedByGroup: $0.assignedByGroup,
                    state: $0.state ?? "Active",
                    error: $0.error
                )
            }
            .sorted {
                ($0.skuId, $0.assignedByGroup ?? GUID(high: 0, low: 0)) < (
                    $1.skuId, $1.assignedByGroup ?? GUID(high: 0, low: 0)
                )
            }
    }

    /// The ids sorted, each once (without hashing them into a set first: most lists are short
    /// and already unique).
    private static func sortedUnique(_ ids: [GUID]) -> [GUID] {
        var unique: [GUID] = []
        unique.reserveCapacity(ids.count)
        for id in ids.sorted() where unique.last != id { unique.append(id) }
        return unique
    }

    /// The direct assignment of a SKU, if any.
    func direct(_ sku: GUID) -> LicenseAssignmentState? {
        states.first { $0.skuId == sku && $0.isDirect }
    }

    func holds(_ sku: GUID) -> Bool {
        held.contains(sku)
    }
}

/// The distinct holdings of a tenant, each stored once.
struct HoldingTable: Sendable {
    private(set) var records: [HoldingRecord] = []
    private var lookup: [[LicenseAssignmentState]: UInt32] = [:]

    /// The index of the record for these states, adding it when new.
    mutating func intern(_ states: [LicenseAssignmentState]) -> UInt32 {
        // Keys are normalized; states that are already normalized (the common case) hit at once.
        if let index = lookup[states] { return index }
        let normalized = HoldingRecord.normalized(states)
        if let index = lookup[normalized] { return index }
        let index = UInt32(records.count)
        records.append(HoldingRecord(states: normalized))
        lookup[normalized] = index
        return index
    }

    subscript(index: UInt32) -> HoldingRecord { records[Int(index)] }
}

extension DirectoryUser {
    /// Where the user's SKUs come from; without states in the input, every SKU is direct.
    var sourceStates: [LicenseAssignmentState] {
        licenseAssignmentStates
            ?? assignedLicenses.map { LicenseAssignmentState(skuId: $0.skuId, disabledPlans: $0.disabledPlans) }
    }
}
