/// The licenses a set of matched policies wants, per managed SKU.
struct DesiredLicenses {
    var granted = SkuMask()
    /// By managed index: the plans disabled (sorted); the intersection over granting policies.
    var disabledPlans: [[GUID]]
    /// By managed index: what that SKU replaces, from the matched policies only.
    var replaces: [SkuMask]

    /// The licenses wanted by the union of these effects (see ``CompiledPolicies``).
    init(effects: [Int], policies: CompiledPolicies) {
        let count = policies.managedSkus.count
        disabledPlans = Array(repeating: [], count: count)
        replaces = Array(repeating: SkuMask(), count: count)
        for effect in effects {
            for grant in policies.effects[effect].grants {
                let sku = grant.sku
                if granted.contains(sku) {
                    // Several policies grant the SKU: enabled plans are the union, so disabled the intersection.
                    let disabled = Set(grant.disabledPlans)
                    disabledPlans[sku] = disabledPlans[sku].filter { disabled.contains($0) }
                } else {
                    granted.insert(sku)
                    disabledPlans[sku] = grant.disabledPlans
                }
                for replaced in grant.replaces { replaces[sku].insert(replaced) }
            }
        }
    }

    /// The granted SKUs that replace `sku`.
    func replacers(of sku: Int) -> [Int] { granted.filter { replaces[$0].contains(sku) } }

    /// What the user should hold once every grant is obtained: the granted SKUs less those they replace.
    var wanted: SkuMask { granted & ~granted.reduce(SkuMask()) { $0 | replaces[$1] } }
}

/// Which policies a user matched and which of them grant each SKU: for reporting only, so it
/// is computed for the users a plan changes, not for everyone.
struct Attribution {
    var policies: [Int]
    /// By managed index.
    var granting: [[Int]]
    /// By managed index: the highest priority among the granting policies (what seats are served by).
    var priority: [Int]

    init(matched: [Int], policies: CompiledPolicies) {
        self.policies = matched
        granting = Array(repeating: [], count: policies.managedSkus.count)
        priority = Array(repeating: .min, count: policies.managedSkus.count)
        for policy in matched {
            for grant in policies.compiled[policy].grants where !granting[grant.sku].contains(policy) {
                granting[grant.sku].append(policy)
                priority[grant.sku] = max(priority[grant.sku], policies.compiled[policy].priority)
            }
        }
    }
}

/// What a user holds of the managed SKUs, read from one interned ``LicenseHolding``.
struct HeldLicenses {
    /// Directly assigned: the only assignments Allot changes.
    var direct = SkuMask()
    /// By managed index: the direct assignment's disabled plans that apply to users (sorted).
    var directPlans: [[GUID]]
    /// Held through a group assignment in state `Active`.
    var group = SkuMask()
    /// Assigned, but Graph reported no state saying from where: treated as held, never removed.
    var unknownSource = SkuMask()
    /// By managed index: the groups assigning it.
    var groups: [[GUID]]

    var held: SkuMask { direct | group | unknownSource }

    init(_ holding: LicenseHolding, policies: CompiledPolicies) {
        let count = policies.managedSkus.count
        directPlans = Array(repeating: [], count: count)
        groups = Array(repeating: [], count: count)
        for (index, sku) in policies.managedSkus.enumerated() {
            if let direct = holding.directAssignment(of: sku.skuId) {
                self.direct.insert(index)
                // Plans the SKU does not (or no longer) offer to users are ignored: comparing them would flap.
                directPlans[index] = direct.disabledPlans.filter { policies.userPlans[index].contains($0) }
            }
            let groupSources =
                holding.states?.filter { $0.skuId == sku.skuId && !$0.isDirect && $0.state == "Active" } ?? []
            if !groupSources.isEmpty {
                group.insert(index)
                groups[index] = groupSources.compactMap(\.assignedByGroup)
            }
            if holding.heldFromUnknownSource(sku.skuId) { unknownSource.insert(index) }
        }
    }
}

/// The difference between what a user holds and what the policies want, per managed SKU.
///
/// `deferred` holds the SKUs whose add was not sent for lack of seats: a deferred SKU does not
/// replace anything, so what it would have replaced stays (a deferral never leaves a user
/// unlicensed).
struct LicenseDiff: Equatable {
    var adds = SkuMask()
    var planChanges = SkuMask()
    var removals = SkuMask()
    /// Removals because a granted SKU replaces them (the rest are not granted at all).
    var replaced = SkuMask()
    /// Wanted SKUs held only through group-based licensing.
    var heldThroughGroup = SkuMask()

    var isEmpty: Bool { adds.isEmpty && planChanges.isEmpty && removals.isEmpty }

    init(desired: DesiredLicenses, held: HeldLicenses, deferred: SkuMask = SkuMask()) {
        let holds = held.held
        var replacedByObtained = SkuMask()
        var replacedByDeferred = SkuMask()
        for replacer in desired.granted {
            if holds.contains(replacer) || !deferred.contains(replacer) {
                replacedByObtained = replacedByObtained | desired.replaces[replacer]
            } else {
                replacedByDeferred = replacedByDeferred | desired.replaces[replacer]
            }
        }
        let wanted = desired.granted & ~replacedByObtained
        let keptForDeferred = replacedByDeferred & ~replacedByObtained
        adds = wanted & ~holds
        removals = held.direct & ~wanted & ~keptForDeferred
        replaced = removals & replacedByObtained
        heldThroughGroup = wanted & ~held.direct & held.group
        for sku in wanted & held.direct where held.directPlans[sku] != desired.disabledPlans[sku] {
            planChanges.insert(sku)
        }
    }
}
