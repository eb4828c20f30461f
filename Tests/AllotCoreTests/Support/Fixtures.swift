@testable import AllotCore

/// Small hand-made tenants for planner tests: real SKU ids, a few plans each.
enum Fixture {
    static func id(_ number: Int) -> GUID { GUID(high: 0x1000_0000_0000_0000, low: UInt64(number)) }

    static let yammer = ServicePlan(
        servicePlanId: GUID("7547a3fe-08ee-4ccb-b430-5077c5041653")!,
        servicePlanName: "YAMMER_ENTERPRISE"
    )
    static let exchange = ServicePlan(
        servicePlanId: GUID("efb87545-963c-4e0d-99df-69c6916d9eb0")!,
        servicePlanName: "EXCHANGE_S_ENTERPRISE"
    )
    static let teams = ServicePlan(
        servicePlanId: GUID("57ff2da0-773e-42df-b2af-ffb7a2317929")!,
        servicePlanName: "TEAMS1"
    )
    static let sway = ServicePlan(servicePlanId: GUID("a23b959c-7ce8-4e57-9140-b90eb88a9e97")!, servicePlanName: "SWAY")
    static let lighthouse = ServicePlan(
        servicePlanId: GUID("6f23d6a9-adbf-481c-8538-b4c095654487")!,
        servicePlanName: "M365_LIGHTHOUSE_CUSTOMER_PLAN1",
        appliesTo: "Company"
    )
    static let powerBI = ServicePlan(
        servicePlanId: GUID("70d33638-9c74-4d01-bfd3-562de28bd4ba")!,
        servicePlanName: "BI_AZURE_P2"
    )

    static func sku(_ name: String, _ id: String, prepaid: Int, consumed: Int, plans: [ServicePlan]) -> SubscribedSku {
        SubscribedSku(
            skuId: GUID(id)!,
            skuPartNumber: name,
            consumedUnits: consumed,
            prepaidUnits: LicenseUnits(enabled: prepaid),
            servicePlans: plans
        )
    }

    static func e3(prepaid: Int = 100, consumed: Int = 0) -> SubscribedSku {
        sku(
            "SPE_E3",
            "05e9a617-0261-4cee-bb44-138d3ef5d965",
            prepaid: prepaid,
            consumed: consumed,
            plans: [exchange, teams, sway, yammer, lighthouse]
        )
    }
    static func e5(prepaid: Int = 100, consumed: Int = 0) -> SubscribedSku {
        sku(
            "SPE_E5",
            "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
            prepaid: prepaid,
            consumed: consumed,
            plans: [exchange, teams, sway, yammer]
        )
    }
    static func powerBIPro(prepaid: Int = 100, consumed: Int = 0) -> SubscribedSku {
        sku(
            "POWER_BI_PRO",
            "f8a1db68-be16-40ed-86d5-cb42ce701560",
            prepaid: prepaid,
            consumed: consumed,
            plans: [powerBI]
        )
    }
    static func ems(prepaid: Int = 100, consumed: Int = 0) -> SubscribedSku {
        sku("EMS", "efccb6f7-5641-4e0e-bd10-b4976e1bf68e", prepaid: prepaid, consumed: consumed, plans: [])
    }

    /// A direct assignment.
    static func direct(_ sku: SubscribedSku, disabled: [ServicePlan] = []) -> LicenseAssignmentState {
        LicenseAssignmentState(skuId: sku.skuId, disabledPlans: disabled.map(\.servicePlanId))
    }

    /// A group-based assignment.
    static func inherited(_ sku: SubscribedSku, from group: GUID, state: String = "Active") -> LicenseAssignmentState {
        LicenseAssignmentState(
            skuId: sku.skuId,
            assignedByGroup: group,
            state: state,
            error: state == "Active" ? nil : "CountViolation"
        )
    }

    static func user(
        _ number: Int,
        _ name: String,
        location: String? = "US",
        licenses: [LicenseAssignmentState] = [],
        _ properties: [String: JSONValue] = [:]
    ) -> DirectoryUser {
        var assigned: [GUID: AssignedLicense] = [:]
        for state in licenses where state.holds {
            assigned[state.skuId] = AssignedLicense(skuId: state.skuId, disabledPlans: state.disabledPlans)
        }
        return DirectoryUser(
            id: id(number),
            userPrincipalName: "\(name)@contoso.com",
            usageLocation: location,
            assignedLicenses: Array(assigned.values),
            licenseAssignmentStates: licenses,
            properties: properties
        )
    }

    static func group(_ number: Int, _ name: String, members: [Int]) -> DirectoryGroup {
        DirectoryGroup(id: id(1000 + number), displayName: name, members: members.map(id))
    }

    static func tenant(
        skus: [SubscribedSku],
        groups: [DirectoryGroup] = [],
        users: [DirectoryUser],
        attributes: [String] = []
    ) throws -> TenantModel {
        try TenantModel(snapshot: Snapshot(attributes: attributes, subscribedSkus: skus, groups: groups, users: users))
    }

    static func policy(
        _ name: String,
        priority: Int = 0,
        match: Policy.Match = Policy.Match(all: true),
        grants: [Policy.LicenseGrant]
    ) -> Policy {
        Policy(name: name, priority: priority, match: match, licenses: grants)
    }

    static func grant(
        _ sku: String,
        disabled: [String]? = nil,
        enabled: [String]? = nil,
        replaces: [String] = []
    ) -> Policy.LicenseGrant {
        let plans: Policy.PlanSelection =
            if let disabled { .disabled(disabled.map { Reference($0) }) } else if let enabled {
                .enabled(enabled.map { Reference($0) })
            } else { .all }
        return Policy.LicenseGrant(sku: Reference(sku), plans: plans, replaces: replaces.map { Reference($0) })
    }

    /// Settings for a test; `managed: nil` manages every SKU of the tenant but EMS (see ``plan``).
    static func settings(
        managed: [String]? = nil,
        defaultLocation: String? = "US",
        maxRemovals: Int = 1000,
        maxRemovalPercent: Double = 100,
        removalDelay: Duration = .zero
    ) -> ReconcileSettings {
        ReconcileSettings(
            managedSkus: (managed ?? []).map { Reference($0) },
            defaultUsageLocation: defaultLocation,
            guardrail: RemovalGuard(maxRemovals: maxRemovals, maxRemovalPercent: maxRemovalPercent),
            removalDelay: removalDelay
        )
    }

    static func plan(
        _ tenant: TenantModel,
        _ policies: [Policy],
        _ settings: ReconcileSettings = settings(),
        options: PlanningOptions = PlanningOptions()
    ) throws -> Plan {
        var settings = settings
        if settings.managedSkus.isEmpty {
            settings.managedSkus = tenant.subscribedSkus.map(\.skuPartNumber).filter { $0 != "EMS" }.map {
                Reference($0)
            }
        }
        let compiled = try CompiledPolicies(
            policies: policies,
            settings: settings,
            tenant: tenant,
            evaluatedAt: options.now
        )
        return Planner(tenant: tenant, policies: compiled, settings: settings).plan(options: options)
    }
}

extension Plan {
    func change(forUser number: Int) -> UserChange? { change(for: Fixture.id(number)) }
}
