import AllotCore
import AllotTools

@testable import AllotSimulator

/// Small hand-made tenants for focused tests.
enum Fixture {
    static func skuId(_ part: String) -> GUID { SampleTenant.sku(part).skuId }
    static func plan(_ name: String, of part: String) -> GUID { SampleTenant.plan(name, of: part) }

    static var e3: GUID { skuId("SPE_E3") }
    static var e5: GUID { skuId("SPE_E5") }
    static var e1: GUID { skuId("STANDARDPACK") }
    static var powerBI: GUID { skuId("POWER_BI_PRO") }
    static var visio: GUID { skuId("VISIOCLIENT") }
    static var project: GUID { skuId("PROJECTPROFESSIONAL") }

    /// A subscription from the catalog with the given seats.
    static func sku(_ part: String, prepaid: Int) -> SubscribedSku {
        SampleTenant.sku(part).subscribedSku(prepaid: prepaid)
    }

    static func userId(_ index: Int) -> GUID {
        GUID(high: 0x1000_0000_0000_4000 | UInt64(index) << 16, low: 0x8000_0000_0000_0000 | UInt64(index))
    }
    static func groupId(_ index: Int) -> GUID {
        GUID(high: 0x2000_0000_0000_4000 | UInt64(index) << 16, low: 0x8000_0000_0000_0000 | UInt64(index))
    }

    static func user(
        _ index: Int,
        usageLocation: String? = "US",
        states: [LicenseAssignmentState] = [],
        properties: [String: JSONValue] = [:]
    ) -> DirectoryUser {
        var all: [String: JSONValue] = [
            "displayName": .string("User \(index)"), "department": .string(index % 2 == 0 ? "Engineering" : "Finance"),
            "accountEnabled": .bool(true), "userType": .string("Member"), "jobTitle": .string("Engineer"),
        ]
        all.merge(properties) { $1 }
        return DirectoryUser(
            id: userId(index),
            userPrincipalName: "user\(index)@contoso.com",
            usageLocation: usageLocation,
            assignedLicenses: HoldingRecord(states: states).assigned,
            licenseAssignmentStates: states,
            properties: all
        )
    }

    /// `count` plain users and one group (id ``groupId(_:)`` 1) of the first `members` of them.
    static func tenant(users count: Int, groupOf members: Int, named name: String = "Everyone") -> Snapshot {
        var tenant = tenant(users: count)
        tenant.groups = [DirectoryGroup(id: groupId(1), displayName: name, members: (0..<members).map(userId))]
        return tenant
    }

    /// `count` plain users and the managed SKUs with ten seats each.
    static func tenant(users count: Int, seats: Int = 10) -> Snapshot {
        Snapshot(
            tenant: SampleTenant.tenantId,
            subscribedSkus: SampleTenant.managedSkus.map { sku($0, prepaid: seats) },
            users: (0..<count).map { user($0) }
        )
    }
}
