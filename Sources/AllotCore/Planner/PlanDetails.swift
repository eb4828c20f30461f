/// The per-user part of a plan in compact form (indices and SKU masks), with what it takes
/// to name it: the planner (tenant and compiled policies) and the desired and held licenses
/// computed while planning.
struct PlanDetails: Sendable {
    /// A user with calls to send.
    struct ChangeRecord: Sendable {
        var user: Int32
        var node: UInt32
        var holding: UInt32
        var adds: SkuMask
        var planChanges: SkuMask
        var removals: SkuMask
        /// The removals that a granted SKU replaces.
        var replaced: SkuMask
        var setsUsageLocation: Bool
    }

    /// An add deferred for lack of seats.
    struct DeferredRecord: Sendable {
        var user: Int32
        var sku: Int
        /// Deferred to break a seat cycle, not because the SKU ran out of seats.
        var seatCycle: Bool
    }

    /// Desired SKUs a user holds only through group-based licensing.
    struct GroupHeldRecord: Sendable {
        var user: Int32
        var holding: UInt32
        var skus: SkuMask
    }

    /// Removals held back: by the group shrink hold or by the tripped mass-removal guard.
    struct HeldRecord: Sendable {
        enum Cause: Sendable {
            /// The policies naming a shrunk group that the user would match as a member of it.
            case groupShrink(policies: [Int])
            /// The mass-removal guard tripped: every removal of the cycle is held.
            case massRemovalGuard
        }

        var user: Int32
        var skus: SkuMask
        var cause: Cause
    }

    let planner: Planner
    /// By trie node and by holding: filled for every node and holding a record names.
    let desired: [DesiredLicenses?]
    let held: [HeldLicenses?]
    /// By managed index: seats freed by the plan's removals (for the deferral reason).
    let freed: [Int]
    /// The groups the engine reported shrunk (object ids).
    let shrunkGroups: Set<GUID>
    /// Why the mass-removal guard tripped, when it holds this cycle's removals.
    let guardReason: String?
    var changeRecords: [ChangeRecord] = []
    var deferredRecords: [DeferredRecord] = []
    var groupHeldRecords: [GroupHeldRecord] = []
    var heldRecords: [HeldRecord] = []

    private var tenant: TenantModel { planner.tenant }
    private var managed: [SubscribedSku] { planner.policies.managedSkus }

    private func policyNames(_ indices: [Int]) -> [String] { indices.map { planner.policies.policies[$0].name } }
    private func planNames(_ ids: [GUID], sku: Int) -> [String] { planner.planNames(ids, of: managed[sku]) }

    /// The names of the SKU's user plans left on, in the SKU's order.
    private func enabledPlans(_ desired: DesiredLicenses, sku: Int) -> [String] {
        let disabled = Set(desired.disabledPlans[sku])
        return managed[sku].servicePlans.filter {
            planner.policies.userPlans[sku].contains($0.servicePlanId) && !disabled.contains($0.servicePlanId)
        }
        .map(\.servicePlanName)
    }

    func userChange(_ record: ChangeRecord) -> UserChange {
        let user = Int(record.user)
        let desired = desired[Int(record.node)]!
        let held = held[Int(record.holding)]!
        let attribution = planner.attribution(user: user)
        let adds = record.adds.map { sku in
            LicenseAdd(
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                disabledPlans: planNames(desired.disabledPlans[sku], sku: sku),
                enabledPlans: enabledPlans(desired, sku: sku),
                policies: policyNames(attribution.granting[sku]),
                priority: attribution.priority[sku]
            )
        }
        let planChanges = record.planChanges.map { sku in
            let before = Set(held.directPlans[sku])
            let after = Set(desired.disabledPlans[sku])
            return PlanChange(
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                enable: planNames(before.subtracting(after).sorted(), sku: sku),
                disable: planNames(after.subtracting(before).sorted(), sku: sku),
                enabledPlans: enabledPlans(desired, sku: sku),
                policies: policyNames(attribution.granting[sku])
            )
        }
        let removals = record.removals.map { sku in
            let replaced = record.replaced.contains(sku)
            return LicenseRemoval(
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                reason: replaced ? .replaced : .notGranted,
                replacedBy: replaced ? desired.replacers(of: sku).map { managed[$0].skuPartNumber } : [],
                freesSeat: !held.group.contains(sku)
            )
        }
        let licenseCalls = record.adds | record.planChanges
        let body: AssignLicenseBody? =
            (licenseCalls | record.removals).isEmpty
            ? nil
            : AssignLicenseBody(
                addLicenses: licenseCalls.map {
                    AssignedLicense(skuId: managed[$0].skuId, disabledPlans: desired.disabledPlans[$0])
                }
                .sorted { $0.skuId < $1.skuId },
                removeLicenses: record.removals.map { managed[$0].skuId }.sorted()
            )
        return UserChange(
            userId: tenant.userID(at: user),
            userPrincipalName: tenant.userPrincipalName(at: user),
            setUsageLocation: record.setsUsageLocation ? planner.settings.defaultUsageLocation : nil,
            assignLicense: body,
            adds: adds,
            planChanges: planChanges,
            removals: removals,
            policies: policyNames(attribution.policies)
        )
    }

    /// What a change record sends, by id and without names: what a policy impact compares the
    /// base plan by, at a fraction of the cost of naming every change (``userChange(_:)``).
    func changeKey(_ record: ChangeRecord) -> ChangeKey {
        let desired = desired[Int(record.node)]!
        var key = ChangeKey(setsUsageLocation: record.setsUsageLocation)
        for sku in record.adds { key.adds[managed[sku].skuId] = desired.disabledPlans[sku] }
        for sku in record.planChanges { key.planChanges[managed[sku].skuId] = desired.disabledPlans[sku] }
        for sku in record.removals { key.removals.insert(managed[sku].skuId) }
        return key
    }

    /// A change by ids: per SKU the disabled plans sent (adds and plan changes), the SKUs removed.
    struct ChangeKey {
        var adds: [GUID: [GUID]] = [:]
        var planChanges: [GUID: [GUID]] = [:]
        var removals: Set<GUID> = []
        var setsUsageLocation: Bool
    }

    func deferredAdd(_ record: DeferredRecord) -> DeferredAdd {
        let user = Int(record.user)
        let sku = record.sku
        let attribution = planner.attribution(user: user)
        return DeferredAdd(
            userId: tenant.userID(at: user),
            userPrincipalName: tenant.userPrincipalName(at: user),
            sku: managed[sku].skuPartNumber,
            skuId: managed[sku].skuId,
            priority: attribution.priority[sku],
            policies: policyNames(attribution.granting[sku]),
            reason: record.seatCycle
                ? "seat cycle: no seat of \(managed[sku].skuPartNumber) is free until another user's call frees one, and that call waits for a seat this user's call would free; the lowest-priority add on the cycle waits for the next cycle (ties: higher user id)"
                : "no seat left: \(managed[sku].availableUnits) available and \(freed[sku]) freed by removals went to adds of higher priority (ties: lower user id)"
        )
    }

    func groupHeldLicenses(_ record: GroupHeldRecord) -> [GroupHeldLicense] {
        let user = Int(record.user)
        let held = held[Int(record.holding)]!
        return record.skus.map { sku in
            GroupHeldLicense(
                userId: tenant.userID(at: user),
                userPrincipalName: tenant.userPrincipalName(at: user),
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                groups: held.groups[sku]
            )
        }
    }

    func heldRemovals(_ record: HeldRecord) -> [HeldRemoval] {
        let user = Int(record.user)
        return record.skus.map { sku in
            var held = HeldRemoval(
                userId: tenant.userID(at: user),
                userPrincipalName: tenant.userPrincipalName(at: user),
                sku: managed[sku].skuPartNumber,
                skuId: managed[sku].skuId,
                heldBy: .massRemovalGuard,
                groups: [],
                policies: [],
                reason: "the mass-removal guard tripped: " + (guardReason ?? "")
            )
            guard case .groupShrink(let policies) = record.cause else { return held }
            let granting = policies.filter { policy in
                planner.policies.compiled[policy].grants.contains { $0.sku == sku }
            }
            let groups = Set(granting.flatMap { planner.policies.compiled[$0].groupFilter ?? [] })
                .filter { shrunkGroups.contains(tenant.groups[$0].id) }.sorted()
            let names = groups.map { "'\(tenant.groups[$0].displayName)'" }.joined(separator: ", ")
            held.heldBy = .groupShrink
            held.groups = groups.map { tenant.groups[$0].id }
            held.policies = policyNames(granting)
            held.reason =
                "group \(names) shrank suddenly and the user would keep \(managed[sku].skuPartNumber) as a member; "
                + "held until the smaller membership is read again next cycle, or an operator runs `allot apply --allow-mass-removal`"
            return held
        }
    }
}
