import AllotCore

/// Service plans that cannot be enabled together on one user (Exchange Online and SharePoint
/// Online come in plans that exclude each other across products).
enum MutuallyExclusivePlans {
    static let pairs: [(GUID, GUID)] = [
        // EXCHANGE_S_STANDARD (Exchange Online Plan 1) and EXCHANGE_S_ENTERPRISE (Plan 2)
        (GUID("9aaf7827-d63c-4b61-89c3-182f06f82e5c")!, GUID("efb87545-963c-4e0d-99df-69c6916d9eb0")!),
        // EXCHANGE_S_DESKLESS (Exchange Online Kiosk) and both Exchange plans
        (GUID("4a82b400-a79f-41a4-b4e2-e94f5787b113")!, GUID("9aaf7827-d63c-4b61-89c3-182f06f82e5c")!),
        (GUID("4a82b400-a79f-41a4-b4e2-e94f5787b113")!, GUID("efb87545-963c-4e0d-99df-69c6916d9eb0")!),
        // SHAREPOINTSTANDARD (SharePoint Plan 1) and SHAREPOINTENTERPRISE (Plan 2)
        (GUID("c7699d2e-19aa-44de-8edf-1736da088ca1")!, GUID("5dbe027f-2339-4123-9542-606e4d348a72")!),
        // SHAREPOINTDESKLESS (SharePoint Kiosk) and both SharePoint plans
        (GUID("902b47e5-dcb2-4fdc-858b-c63a90a2bdb9")!, GUID("c7699d2e-19aa-44de-8edf-1736da088ca1")!),
        (GUID("902b47e5-dcb2-4fdc-858b-c63a90a2bdb9")!, GUID("5dbe027f-2339-4123-9542-606e4d348a72")!),
    ]

    /// The first conflicting pair among the enabled plans, if any.
    static func conflict(in enabled: Set<GUID>) -> (GUID, GUID)? {
        pairs.first { enabled.contains($0.0) && enabled.contains($0.1) }
    }
}

extension Directory {
    /// `POST /users/{id}/assignLicense`, validated as the real service validates it, applied
    /// atomically (all of the call or nothing).
    ///
    /// - Returns: the user's index, for the response body.
    mutating func assignLicense(user key: String, body: JSONValue?) throws(GraphError) -> Int {
        guard case let .object(members)? = body else { throw GraphError.invalidJSON() }
        let missing = ["addLicenses", "removeLicenses"].filter { members[$0] == nil || members[$0] == .null }
        guard missing.isEmpty else {
            throw .badRequest(
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: \(missing.joined(separator: ", ")).")
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
                throw .badRequest("User license is inherited from a group membership and it cannot be removed directly from the user.")
            }
            throw .badRequest("User does not have a corresponding license.")
        }

        var states = holding.states.filter { state in
            !(state.isDirect && (removes.contains(state.skuId) || adds.contains { $0.skuId == state.skuId }))
        }
        for license in adds {
            states.append(LicenseAssignmentState(skuId: license.skuId, disabledPlans: license.disabledPlans, state: "Active"))
        }

        for license in adds where !holding.holds(license.skuId) {
            let index = skuIndex[license.skuId]!
            if availableUnits(ofSku: index) < 1 {
                throw .badRequest("Subscription with SKU \(license.skuId) does not have any available licenses.")
            }
        }
        if !adds.isEmpty {
            let after = HoldingRecord(states: states)
            var enabled: Set<GUID> = []
            for license in after.assigned {
                guard let index = skuIndex[license.skuId] else { continue }
                enabled.formUnion(skus[index].planIds.subtracting(license.disabledPlans))
            }
            if let (first, second) = MutuallyExclusivePlans.conflict(in: enabled) {
                throw .badRequest("License assignment failed because service plans \(first),\(second) are mutually exclusive.")
            }
        }
        setLicenses(states, ofUser: user)
        return user
    }

    /// Two letters, as ISO 3166-1 alpha-2 codes are.
    static func isValidUsageLocation(_ value: String?) -> Bool {
        guard let value, value.utf8.count == 2 else { return false }
        return value.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
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
                throw .badRequest("Cannot convert the literal '\(item.stringValue ?? "\(item)")' to the expected type 'Edm.Guid'.")
            }
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }

    /// `PATCH /users/{id}`: sets the properties the body names.
    mutating func updateUser(_ key: String, body: JSONValue?) throws(GraphError) {
        guard case let .object(members)? = body else { throw GraphError.invalidJSON() }
        guard let user = users.index(ofIdOrPrincipalName: key) else { throw .notFound(key) }
        var changes: [(String, JSONValue?)] = []
        for (name, value) in members.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("@") {
            guard let canonical = UserProperties.canonicalNames[name.lowercased()] else {
                throw .badRequest("Invalid property '\(name)'.")
            }
            guard let kind = UserProperties.updatable[canonical] else {
                throw .badRequest("Property '\(canonical)' is read-only and cannot be set.")
            }
            let invalid = GraphError.badRequest("Invalid value specified for property '\(canonical)' of resource 'User'.")
            switch (kind, value) {
            case (_, .null): changes.append((canonical, nil))
            case (.string, .string): changes.append((canonical, value))
            case (.boolean, .bool): changes.append((canonical, value))
            case let (.countryCode, .string(code)):
                guard Self.isValidUsageLocation(code) else { throw invalid }
                changes.append((canonical, .string(code.uppercased())))
            case let (.extensionAttributes, .object(fields)):
                var merged = users.column(named: canonical)?.value(ofUser: user)?.objectValue ?? [:]
                for (field, fieldValue) in fields {
                    guard field.hasPrefix("extensionAttribute"), let number = Int(field.dropFirst("extensionAttribute".count)),
                        (1...15).contains(number)
                    else { throw invalid }
                    switch fieldValue {
                    case .null, .string: merged[field] = fieldValue
                    default: throw invalid
                    }
                }
                changes.append((canonical, .object(merged)))
            default: throw invalid
            }
        }
        for (name, value) in changes {
            setProperty(name, to: value, ofUser: user)
        }
    }
}
