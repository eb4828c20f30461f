/// The tenant state Allot needs, as a versioned JSON document (`docs/snapshot-format.md`).
///
/// Users, SKUs and group entries keep Microsoft Graph's own JSON shape, so a snapshot is
/// what `allot snapshot` reads from Graph, what `allot plan --snapshot` plans against, and
/// what `allot simulate --tenant` serves.
public struct Snapshot: Sendable, Hashable, Codable {
    /// The format version this build writes and reads.
    public static let currentVersion = 1

    public var version: Int
    /// The tenant id or domain the snapshot was taken from.
    public var tenant: String?
    /// When it was taken (RFC 3339), for people; Allot never reads the clock from it.
    public var takenAt: String?
    /// The user properties read beyond the license fields (what the policies test).
    public var attributes: [String]
    public var subscribedSkus: [SubscribedSku]
    /// The groups the policies reference (every group a display name matched), with transitive user members.
    public var groups: [DirectoryGroup]
    public var users: [DirectoryUser]

    public init(
        version: Int = Snapshot.currentVersion,
        tenant: String? = nil,
        takenAt: String? = nil,
        attributes: [String] = [],
        subscribedSkus: [SubscribedSku] = [],
        groups: [DirectoryGroup] = [],
        users: [DirectoryUser] = []
    ) {
        self.version = version
        self.tenant = tenant
        self.takenAt = takenAt
        self.attributes = attributes
        self.subscribedSkus = subscribedSkus
        self.groups = groups
        self.users = users
    }

    private enum CodingKeys: String, CodingKey {
        case version, tenant, takenAt, attributes, subscribedSkus, groups, users
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        guard version == Snapshot.currentVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .version,
                in: container,
                debugDescription:
                    "snapshot version \(version) is not supported; this build reads version \(Snapshot.currentVersion)"
            )
        }
        tenant = try container.decodeIfPresent(String.self, forKey: .tenant)
        takenAt = try container.decodeIfPresent(String.self, forKey: .takenAt)
        attributes = try container.decodeIfPresent([String].self, forKey: .attributes) ?? []
        subscribedSkus = try container.decode([SubscribedSku].self, forKey: .subscribedSkus)
        groups = try container.decodeIfPresent([DirectoryGroup].self, forKey: .groups) ?? []
        users = try container.decode([DirectoryUser].self, forKey: .users)
    }
}

/// A user as Graph returns it with `$select`: the license fields by name, every other
/// selected property in `properties`.
public struct DirectoryUser: Sendable, Hashable, Codable {
    public var id: GUID
    public var userPrincipalName: String
    public var usageLocation: String?
    /// Every SKU the user holds, direct or inherited.
    public var assignedLicenses: [AssignedLicense]
    /// One entry per source of each SKU; `assignedByGroup == nil` is a direct assignment.
    /// `nil` when Graph did not return the property.
    public var licenseAssignmentStates: [LicenseAssignmentState]?
    /// The other selected properties in Graph's JSON shape (`department`, `accountEnabled`, ...).
    public var properties: [String: JSONValue]

    public init(
        id: GUID,
        userPrincipalName: String,
        usageLocation: String? = nil,
        assignedLicenses: [AssignedLicense] = [],
        licenseAssignmentStates: [LicenseAssignmentState]? = [],
        properties: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.userPrincipalName = userPrincipalName
        self.usageLocation = usageLocation
        self.assignedLicenses = assignedLicenses
        self.licenseAssignmentStates = licenseAssignmentStates
        self.properties = properties
    }

    /// The names Allot models itself; everything else is a property.
    static let modelledKeys: Set<String> = [
        "id", "userPrincipalName", "usageLocation", "assignedLicenses", "licenseAssignmentStates",
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        id = try container.decode(GUID.self, forKey: AnyCodingKey("id"))
        userPrincipalName = try container.decode(String.self, forKey: AnyCodingKey("userPrincipalName"))
        usageLocation = try container.decodeIfPresent(String.self, forKey: AnyCodingKey("usageLocation"))
        assignedLicenses =
            try container.decodeIfPresent([AssignedLicense].self, forKey: AnyCodingKey("assignedLicenses")) ?? []
        licenseAssignmentStates = try container.decodeIfPresent(
            [LicenseAssignmentState].self,
            forKey: AnyCodingKey("licenseAssignmentStates")
        )
        var properties: [String: JSONValue] = [:]
        for key in container.allKeys
        where !Self.modelledKeys.contains(key.stringValue) && !key.stringValue.hasPrefix("@") {
            properties[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
        }
        self.properties = properties
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(id, forKey: AnyCodingKey("id"))
        try container.encode(userPrincipalName, forKey: AnyCodingKey("userPrincipalName"))
        try container.encode(usageLocation, forKey: AnyCodingKey("usageLocation"))
        try container.encode(assignedLicenses, forKey: AnyCodingKey("assignedLicenses"))
        try container.encodeIfPresent(licenseAssignmentStates, forKey: AnyCodingKey("licenseAssignmentStates"))
        for (key, value) in properties {
            try container.encode(value, forKey: AnyCodingKey(key))
        }
    }

    /// The value of a property at a dotted path, or `nil` when it is absent.
    public func property(at path: String) -> JSONValue? {
        switch path {
        case "id": return .string(id.description)
        case "userPrincipalName": return .string(userPrincipalName)
        case "usageLocation": return usageLocation.map(JSONValue.string) ?? .null
        default:
            let components = path.split(separator: ".")
            guard let first = components.first, let root = properties[String(first)] else { return nil }
            return root.value(atPath: components.dropFirst())
        }
    }
}

/// Graph's `assignedLicense`: a SKU and the plans disabled in it.
public struct AssignedLicense: Sendable, Hashable, Codable {
    public var skuId: GUID
    public var disabledPlans: [GUID]

    public init(skuId: GUID, disabledPlans: [GUID] = []) {
        self.skuId = skuId
        self.disabledPlans = disabledPlans
    }

    private enum CodingKeys: String, CodingKey { case skuId, disabledPlans }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        skuId = try container.decode(GUID.self, forKey: .skuId)
        disabledPlans = try container.decodeIfPresent([GUID].self, forKey: .disabledPlans) ?? []
    }
}

/// Graph's `licenseAssignmentState`: one source (direct, or a group) of one SKU.
public struct LicenseAssignmentState: Sendable, Hashable, Codable {
    public var skuId: GUID
    public var disabledPlans: [GUID]
    /// `nil` for a direct assignment; otherwise the group it is inherited from.
    public var assignedByGroup: GUID?
    /// `Active`, `ActiveWithError`, `Disabled` or `Error`.
    public var state: String?
    /// `nil` on success; `CountViolation`, `MutuallyExclusiveViolation`, ... otherwise.
    public var error: String?

    public init(
        skuId: GUID,
        disabledPlans: [GUID] = [],
        assignedByGroup: GUID? = nil,
        state: String? = "Active",
        error: String? = nil
    ) {
        self.skuId = skuId
        self.disabledPlans = disabledPlans
        self.assignedByGroup = assignedByGroup
        self.state = state
        self.error = error
    }

    private enum CodingKeys: String, CodingKey { case skuId, disabledPlans, assignedByGroup, state, error }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        skuId = try container.decode(GUID.self, forKey: .skuId)
        disabledPlans = try container.decodeIfPresent([GUID].self, forKey: .disabledPlans) ?? []
        assignedByGroup = try container.decodeIfPresent(GUID.self, forKey: .assignedByGroup)
        state = try container.decodeIfPresent(String.self, forKey: .state)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        if error == "None" { error = nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(skuId, forKey: .skuId)
        try container.encode(disabledPlans, forKey: .disabledPlans)
        try container.encode(assignedByGroup, forKey: .assignedByGroup)
        try container.encode(state, forKey: .state)
        try container.encode(error ?? "None", forKey: .error)
    }

    /// A direct assignment (the only kind Allot changes).
    public var isDirect: Bool { assignedByGroup == nil }
    /// Whether this source gives the user the SKU: direct, or a group assignment that is `Active`.
    public var holds: Bool { isDirect || state == "Active" }
}

/// Graph's `subscribedSku`: a product the tenant owns, its seats and service plans.
public struct SubscribedSku: Sendable, Hashable, Codable {
    public var id: String?
    public var skuId: GUID
    public var skuPartNumber: String
    /// `User` or `Company`; only `User` SKUs are assignable.
    public var appliesTo: String?
    /// `Enabled`, `Warning`, `Suspended`, `Deleted`, `LockedOut`.
    public var capabilityStatus: String?
    public var consumedUnits: Int
    public var prepaidUnits: LicenseUnits
    public var servicePlans: [ServicePlan]

    public init(
        id: String? = nil,
        skuId: GUID,
        skuPartNumber: String,
        appliesTo: String? = "User",
        capabilityStatus: String? = "Enabled",
        consumedUnits: Int,
        prepaidUnits: LicenseUnits,
        servicePlans: [ServicePlan]
    ) {
        self.id = id
        self.skuId = skuId
        self.skuPartNumber = skuPartNumber
        self.appliesTo = appliesTo
        self.capabilityStatus = capabilityStatus
        self.consumedUnits = consumedUnits
        self.prepaidUnits = prepaidUnits
        self.servicePlans = servicePlans
    }

    /// Seats that can still be assigned: `prepaidUnits.enabled - consumedUnits`, never negative.
    public var availableUnits: Int { max(0, prepaidUnits.enabled - consumedUnits) }
}

/// Graph's `licenseUnitsDetail`.
public struct LicenseUnits: Sendable, Hashable, Codable {
    public var enabled: Int
    public var suspended: Int
    public var warning: Int
    public var lockedOut: Int

    public init(enabled: Int, suspended: Int = 0, warning: Int = 0, lockedOut: Int = 0) {
        self.enabled = enabled
        self.suspended = suspended
        self.warning = warning
        self.lockedOut = lockedOut
    }

    private enum CodingKeys: String, CodingKey { case enabled, suspended, warning, lockedOut }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Int.self, forKey: .enabled) ?? 0
        suspended = try container.decodeIfPresent(Int.self, forKey: .suspended) ?? 0
        warning = try container.decodeIfPresent(Int.self, forKey: .warning) ?? 0
        lockedOut = try container.decodeIfPresent(Int.self, forKey: .lockedOut) ?? 0
    }
}

/// Graph's `servicePlanInfo`.
public struct ServicePlan: Sendable, Hashable, Codable {
    public var servicePlanId: GUID
    public var servicePlanName: String
    public var provisioningStatus: String?
    public var appliesTo: String?

    public init(
        servicePlanId: GUID,
        servicePlanName: String,
        provisioningStatus: String? = "Success",
        appliesTo: String? = "User"
    ) {
        self.servicePlanId = servicePlanId
        self.servicePlanName = servicePlanName
        self.provisioningStatus = provisioningStatus
        self.appliesTo = appliesTo
    }
}

/// A group the policies reference, with its transitive user members.
public struct DirectoryGroup: Sendable, Hashable, Codable {
    public var id: GUID
    public var displayName: String
    /// Every user that is a member, directly or through nested groups of any kind.
    public var members: [GUID]
    /// Groups nested directly inside this one, when known (the simulator serves them).
    public var memberGroups: [GUID]?
    /// Graph's `visibility`: `Public`, `Private`, `HiddenMembership`, or `nil` when not set or not read.
    /// Only an application with `Member.Read.Hidden` sees the members of a `HiddenMembership` group.
    public var visibility: String?

    public init(id: GUID, displayName: String, members: [GUID], memberGroups: [GUID]? = nil, visibility: String? = nil)
    {
        self.id = id
        self.displayName = displayName
        self.members = members
        self.memberGroups = memberGroups
        self.visibility = visibility
    }
}

/// A coding key for any string: JSON objects whose keys are data, not schema.
struct AnyCodingKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}
