import AllotCore
import AllotSimulator
import Foundation

/// Generated tenants for the end-to-end tests, with the seats and special cases a test needs.
public enum TestTenant {
    public static let skuIds: [String: GUID] = [
        "SPE_E3": GUID("05e9a617-0261-4cee-bb44-138d3ef5d965")!,
        "SPE_E5": GUID("06ebc4ee-1bb5-47dd-8120-11324bc54e06")!,
        "STANDARDPACK": GUID("18181a46-0d4e-45cd-891e-60aabd171b4e")!,
        "POWER_BI_PRO": GUID("f8a1db68-be16-40ed-86d5-cb42ce701560")!,
        "PROJECTPROFESSIONAL": GUID("53818b1b-4a27-454b-8896-0dba576410e6")!,
        "VISIOCLIENT": GUID("c5928f49-12ba-48f7-ada3-0d743a3601d5")!,
        "TEAMS_EXPLORATORY": GUID("710779e8-3d4a-4c88-adb9-386c958d1fdf")!,
    ]

    public static func sku(_ partNumber: String) -> GUID { skuIds[partNumber]! }

    /// A generated Contoso tenant (the sample policies' tenant) with `drift` percent of users
    /// drifted. `POWER_BI_PRO` stays a few seats short, as the generator makes it.
    public static func generate(users: Int, seed: UInt64, drift: Double) -> Snapshot {
        TenantGenerator(users: users, seed: seed, driftPercent: drift).generate()
    }

    /// Adds `extra` seats to a SKU.
    public static func addSeats(_ extra: Int, to partNumber: String, in snapshot: inout Snapshot) {
        let index = snapshot.subscribedSkus.firstIndex { $0.skuPartNumber == partNumber }!
        snapshot.subscribedSkus[index].prepaidUnits.enabled += extra
    }

    /// Whether a user holds a SKU directly.
    public static func holdsDirectly(_ user: DirectoryUser, _ partNumber: String) -> Bool {
        (user.licenseAssignmentStates ?? []).contains { $0.isDirect && $0.skuId == sku(partNumber) }
    }

    /// Whether a user holds a SKU through a group.
    public static func holdsThroughGroup(_ user: DirectoryUser, _ partNumber: String) -> Bool {
        (user.licenseAssignmentStates ?? []).contains { !$0.isDirect && $0.skuId == sku(partNumber) }
    }

    /// Sets every SKU's `consumedUnits` to the users holding it, as Graph reports it (after a
    /// test changed who holds what).
    public static func recountConsumedUnits(_ snapshot: inout Snapshot) {
        var holders: [GUID: Int] = [:]
        for user in snapshot.users {
            for sku in Set((user.licenseAssignmentStates ?? []).filter(\.holds).map(\.skuId)) {
                holders[sku, default: 0] += 1
            }
        }
        for index in snapshot.subscribedSkus.indices {
            snapshot.subscribedSkus[index].consumedUnits = holders[snapshot.subscribedSkus[index].skuId, default: 0]
        }
    }

    /// Replaces a user's direct assignments (keeping `assignedLicenses` in step).
    public static func setDirect(_ states: [LicenseAssignmentState], of index: Int, in snapshot: inout Snapshot) {
        let group = (snapshot.users[index].licenseAssignmentStates ?? []).filter { !$0.isDirect }
        let all = states + group
        snapshot.users[index].licenseAssignmentStates = all
        snapshot.users[index].assignedLicenses = all.filter(\.holds).map {
            AssignedLicense(skuId: $0.skuId, disabledPlans: $0.disabledPlans)
        }
    }
}
