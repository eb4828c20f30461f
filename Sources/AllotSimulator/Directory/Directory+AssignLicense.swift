import AllotCore

extension Directory {
    /// `POST /users/{id}/assignLicense`, validated as the real service validates it, applied
    /// atomically (all of the call or nothing).
    ///
    /// - Returns: the user's index, for the response body.
    mutating func assignLicense(
        user key: String,
        body: JSONValue?,
        rules: SimulatedLicensingRules
    ) throws(GraphError) -> Int {
        guard case let .object(members)? = body else { throw GraphError.invalidJSON() }
        let missing = ["addLicenses", "removeLicenses"].filter { members[$0] == nil || members[$0] == .null }
        guard missing.isEmpty else {
            throw .badRequest(
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: \(missing.joined(separator: ", "))."
            )
        }
        let adds = try Self.parseAddLicenses(members["addLicenses"]!)
        let removes = try Self.parseGUIDList(members["removeLicenses"]!, parameter: "removeLicenses")
        guard let user = users.index(ofIdOrPrincipalName: key) else { throw .notFound(key) }
        guard !adds.isEmpty || !removes.isEmpty else {
            throw .badRequest("No license changes provided. At least one license to add or remove must be specified.")
        }

        for sku in adds.map(\.skuId) + removes where skuIndex[sku] == nil {
            throw .badRequest("License \(sku) does not correspond to a valid company License.")
        }
        for license in adds {
            let plans = skus[skuIndex[license.skuId]!].planIds
            if let unknown = license.disabledPlans.first(where: { !plans.contains($0) }) {
                throw .badRequest("Service plan \(unknown) does not belong to license \(license.skuId).")
            }
        }
        if let twice = adds.map(\.skuId).first(where: { removes.contains($0) }) {
            throw .badRequest("License \(twice) is in both addLicenses and removeLicenses.")
        }
        if !adds.isEmpty, !Self.isValidUsageLocation(users.usageLocation(ofUser: user)) {
            throw .badRequest("License assignment cannot be done for user with invalid usage location.")
        }

        let holding = users.holding(ofUser: user)
        for sku in removes where holding.direct(sku) == nil {
            if holding.states.contains(where: { $0.skuId == sku }) {
                throw .badRequest(
                    "User license is inherited from a group membership and it cannot be removed directly from the user."
                )
            }
            throw .badRequest("User does not have a corresponding license.")
        }

        var states = holding.states.filter { state in
            !(state.isDirect && (removes.contains(state.skuId) || adds.contains { $0.skuId == state.skuId }))
        }
        for license in adds {
            states.append(
                LicenseAssignmentState(skuId: license.skuId, disabledPlans: license.disabledPlans, state: "Active")
            )
        }

        for license in adds where !holding.holds(license.skuId) {
            let index = skuIndex[license.skuId]!
            if availableUnits(ofSku: index) < 1 {
                throw .badRequest("Subscription with SKU \(license.skuId) does not have any available licenses.")
            }
        }
        let enabled = enabledPlans(HoldingRecord(states: states))
        if !adds.isEmpty, let (first, second) = rules.conflict(in: enabled) {
            throw .badRequest(
                "License assignment failed because service plans \(first),\(second) are mutually exclusive."
            )
        }
        // Only what the call breaks: a state that predates it (from a snapshot) never blocks it.
        let unmetBefore = Set(rules.unmetDependencies(in: enabledPlans(holding)))
        if let unmet = rules.unmetDependencies(in: enabled).first(where: { !unmetBefore.contains($0) }) {
            throw .badRequest(
                "License assignment failed because service plan \(unmet.plan) depends on the service plan(s) \(unmet.prerequisites.map(\.description).joined(separator: ", "))."
            )
        }
        setLicenses(states, ofUser: user)
        return user
    }

    /// The service plans a holding enables: every plan of each SKU held but its disabled ones.
    private func enabledPlans(_ holding: HoldingRecord) -> Set<GUID> {
        var enabled: Set<GUID> = []
        for license in holding.assigned {
            guard let index = skuIndex[license.skuId] else { continue }
            enabled.formUnion(skus[index].planIds.subtracting(license.disabledPlans))
        }
        return enabled
    }

    /// Two letters, as ISO 3166-1 alpha-2 codes are.
    static func isValidUsageLocation(_ value: String?) -> Bool {
        guard let value, value.utf8.count == 2 else { return false }
        return value.utf8.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
        }
    }

    private static func parseAddLicenses(_ value: JSONValue) throws(GraphError) -> [AssignedLicense] {
        guard case let .array(items) = value else {
            throw .badRequest("Invalid value for parameter 'addLicenses': a collection of assignedLicense is expected.")
        }
        var licenses: [AssignedLicense] = []
        for item in items {
            guard case let .object(fields) = item, let skuText = fields["skuId"]?.stringValue else {
                throw .badRequest("Invalid value for parameter 'addLicenses': each entry needs a skuId.")
            }
            guard let sku = GUID(skuText) else { throw .badRequest("Invalid GUID '\(skuText)' for property 'skuId'.") }
            let disabled: [GUID]
            if let plans = fields["disabledPlans"], plans != .null {
                disabled = try parseGUIDList(plans, parameter: "disabledPlans")
            } else {
                disabled = []
            }
            licenses.removeAll { $0.skuId == sku }
            licenses.append(AssignedLicense(skuId: sku, disabledPlans: disabled))
        }
        return licenses
    }

    private static func parseGUIDList(_ value: JSONValue, parameter: String) throws(GraphError) -> [GUID] {
        guard case let .array(items) = value else {
            throw .badRequest("Invalid value for parameter '\(parameter)': a collection of GUIDs is expected.")
        }
        var ids: [GUID] = []
        for item in items {
            guard let text = item.stringValue, let id = GUID(text) else {
                throw .badRequest(
                    "Cannot convert the literal '\(item.stringValue ?? "\(item)")' to the expected type 'Edm.Guid'."
                )
            }
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }
}
