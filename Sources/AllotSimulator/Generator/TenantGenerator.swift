import AllotCore
import AllotTools
import Foundation

/// Builds a realistic Contoso tenant from a seed: the same seed and sizes give the same tenant,
/// byte for byte.
///
/// Users have departments, job titles, countries, cities, employee types and extension
/// attributes; about 2 % have no usage location, 3 % are guests and 4 % are disabled. Groups
/// include `Engineering` (with `Platform Engineering` and `Data Engineering` nested inside),
/// `Frontline Workers`, `PMO`, `License Exempt` and the group-based-licensing group
/// `GBL - Microsoft 365 E3`, plus department and other groups (20 in all). Licenses start as
/// the sample policies in `policies/` would grant them; `driftPercent` of the users then
/// differ (a missing or extra license, other disabled plans, an engineer still on E3, E3 held
/// only through the group). Every managed SKU has seats enough except `POWER_BI_PRO`, a few short.
///
/// Groups carry no `visibility` unless `hiddenMembershipGroup` names one of them: that group is
/// `HiddenMembership` (only a caller with `Member.Read.Hidden` sees its members), nothing else changes.
///
/// Users carry lifecycle dates only when `lifecycleDatesAsOf` gives the date they are relative
/// to (``LifecycleDates``); nothing else about the tenant changes.
public struct TenantGenerator: Sendable {
    public let users: Int
    public let seed: UInt64
    public let driftPercent: Double
    /// The display name of the one generated group to make `HiddenMembership`, if any.
    public let hiddenMembershipGroup: String?
    /// The moment the generated `createdDateTime`, `employeeHireDate`, `employeeLeaveDateTime`
    /// and `signInActivity` are relative to; `nil` generates none of them.
    public let lifecycleDatesAsOf: Date?

    public init(
        users: Int,
        seed: UInt64,
        driftPercent: Double = 5,
        hiddenMembershipGroup: String? = nil,
        lifecycleDatesAsOf: Date? = nil
    ) {
        self.users = max(0, users)
        self.seed = seed
        self.driftPercent = min(100, max(0, driftPercent))
        self.hiddenMembershipGroup = hiddenMembershipGroup
        self.lifecycleDatesAsOf = lifecycleDatesAsOf
    }

    /// The tenant as a snapshot document (groups carry `members`, transitive users, and
    /// `memberGroups`, direct nested groups).
    public func generate() -> Snapshot {
        var sink = SnapshotSink()
        produce(into: &sink)
        return Snapshot(
            tenant: SampleTenant.tenantId,
            attributes: [],
            subscribedSkus: sink.skus,
            groups: sink.groups,
            users: sink.users
        )
    }

    /// Streams the tenant into a simulator directory without building a snapshot first.
    func generate(into directory: inout Directory) {
        var sink = DirectorySink(directory: directory)
        sink.directory.reserveCapacity(users: users)
        produce(into: &sink)
        directory = sink.directory
    }

    /// The display names of the groups every generated tenant has.
    public static var groupNames: [String] { Group.allCases.map(\.displayName) }

    // MARK: The tenant

    private enum Group: Int, CaseIterable {
        case engineering, platformEngineering, dataEngineering, frontlineWorkers, pmo, licenseExempt, groupBasedE3
        case allEmployees, managers, contractors
        case departmentEngineering, departmentSales, departmentSalesOperations, departmentFinance, departmentMarketing
        case departmentSupport, departmentOperations, departmentHR, departmentLegal, departmentData

        var displayName: String {
            switch self {
            case .engineering: SampleTenant.GroupName.engineering
            case .platformEngineering: SampleTenant.GroupName.platformEngineering
            case .dataEngineering: SampleTenant.GroupName.dataEngineering
            case .frontlineWorkers: SampleTenant.GroupName.frontlineWorkers
            case .pmo: SampleTenant.GroupName.pmo
            case .licenseExempt: SampleTenant.GroupName.licenseExempt
            case .groupBasedE3: SampleTenant.GroupName.groupBasedE3
            case .allEmployees: "All Employees"
            case .managers: "Managers"
            case .contractors: "Contractors"
            default: "Department - " + TenantGenerator.departments[rawValue - Group.departmentEngineering.rawValue].name
            }
        }

        static func department(_ name: String) -> Group {
            Group(
                rawValue: Group.departmentEngineering.rawValue + TenantGenerator.departments.firstIndex {
                    $0.name == name
                }!
            )!
        }
    }

    /// Department, share of members (percent) and job titles with weights.
    static let departments: [(name: String, weight: Int, titles: [(String, Int)])] = [
        (
            "Engineering", 18,
            [
                ("Software Engineer", 35), ("Senior Software Engineer", 25), ("Staff Engineer", 5),
                ("Platform Engineer", 10),
                ("Site Reliability Engineer", 8), ("Engineering Manager", 7), ("Solutions Architect", 5),
                ("Enterprise Architect", 2), ("QA Engineer", 3),
            ]
        ),
        (
            "Sales", 14,
            [
                ("Account Executive", 50), ("Sales Manager", 15), ("Sales Development Representative", 30),
                ("Solutions Architect", 5),
            ]
        ),
        (
            "Sales Operations", 5,
            [("Sales Operations Analyst", 50), ("Sales Operations Manager", 20), ("Project Manager", 30)]
        ),
        ("Finance", 6, [("Financial Analyst", 45), ("Accountant", 35), ("Controller", 10), ("Finance Manager", 10)]),
        (
            "Marketing", 8,
            [("Marketing Manager", 25), ("Content Strategist", 25), ("Marketing Analyst", 30), ("Brand Designer", 20)]
        ),
        ("Support", 12, [("Support Engineer", 50), ("Customer Support Specialist", 35), ("Support Manager", 15)]),
        (
            "Operations", 22,
            [("Store Associate", 70), ("Store Manager", 10), ("Project Manager", 8), ("Logistics Coordinator", 12)]
        ),
        ("HR", 4, [("HR Business Partner", 50), ("Recruiter", 40), ("HR Manager", 10)]),
        ("Legal", 3, [("Counsel", 60), ("Paralegal", 30), ("Legal Operations Manager", 10)]),
        (
            "Data", 8,
            [
                ("Data Analyst", 35), ("Data Engineer", 30), ("Data Scientist", 20), ("Analytics Manager", 5),
                ("Enterprise Architect", 10),
            ]
        ),
    ]

    /// Country, weight, cities and the language people there prefer.
    static let countries: [(code: String, weight: Int, cities: [String], language: String)] = [
        ("US", 30, ["Seattle", "New York", "Chicago", "Austin"], "en-US"),
        ("GB", 10, ["London", "Manchester"], "en-GB"),
        ("DE", 9, ["Berlin", "Munich"], "de-DE"),
        ("FR", 7, ["Paris", "Lyon"], "fr-FR"),
        ("NL", 4, ["Amsterdam"], "nl-NL"),
        ("IN", 14, ["Bengaluru", "Hyderabad"], "en-IN"),
        ("JP", 6, ["Tokyo", "Osaka"], "ja-JP"),
        ("CA", 6, ["Toronto", "Vancouver"], "en-CA"),
        ("AU", 5, ["Sydney", "Melbourne"], "en-AU"),
        ("BR", 4, ["São Paulo"], "pt-BR"),
        ("CN", 5, ["Shanghai", "Beijing"], "zh-CN"),
    ]

    /// The draws' tables, built once rather than for every user.
    private static let weightedCountries = countries.map { ($0, $0.weight) }
    private static let weightedDepartments = departments.map { ($0, $0.weight) }
    private static let employeeTypes = [("Employee", 88), ("Contractor", 9), ("Intern", 3)]

    static let givenNames = [
        "Adele", "Alex", "Allan", "Amara", "Ben", "Carla", "Chen", "Christie", "Daniel", "Diego", "Elena", "Emily",
        "Enrico",
        "Fatima", "Grady", "Hana", "Henrietta", "Isaiah", "Ivan", "Jana", "Johanna", "Joni", "Kenji", "Lee", "Lidia",
        "Lynne", "Maria", "Megan", "Miriam", "Nestor", "Noah", "Olga", "Omar", "Patti", "Pradeep", "Priya", "Raul",
        "Rosa", "Sakura", "Sam", "Sofia", "Tariq", "Thomas", "Uma", "Victor", "Wei", "Xavier", "Yara", "Yuki", "Zoe",
    ]

    static let surnames = [
        "Vance", "Wilber", "Deyoung", "Okafor", "Walters", "Diaz", "Li", "Cline", "Park", "Ramos", "Petrova", "Braun",
        "Rossi", "Haddad", "Archie", "Sato", "Schmidt", "Brown", "Kuznetsov", "Novak", "Muller", "Johnson", "Tanaka",
        "Gu", "Moreno", "Robbins", "Garcia", "Bowen", "Cohen", "Kowalski", "Smith", "Ivanova", "Farouk", "Fernandez",
        "Kumar", "Sharma", "Lopez", "Silva", "Nakamura", "Taylor", "Andersson", "Khan", "Martin", "Iyer", "Hugo",
        "Wang",
        "Dubois", "Costa", "Yamada", "Jensen",
    ]

    /// `onPremisesExtensionAttributes` with all fifteen attributes null, as Graph shows a cloud user's.
    private static let emptyExtensionAttributes = [String: JSONValue](
        uniqueKeysWithValues: (1...15).map { ("extensionAttribute\($0)", JSONValue.null) }
    )

    /// What the sample policies grant a user, and the groups the user is in.
    private struct Person {
        var id: GUID
        var index: Int
        var user: DirectoryUser
        var groups: [Group] = []
        /// Catalog SKU part number to disabled plans, as the policies want it.
        var desired: [(String, [GUID])] = []
    }

    private struct Plans {
        let e3Disabled = [
            SampleTenant.plan("YAMMER_ENTERPRISE", of: "SPE_E3"), SampleTenant.plan("KAIZALA_O365_P3", of: "SPE_E3"),
        ].sorted()
        let e5Disabled = [SampleTenant.plan("YAMMER_ENTERPRISE", of: "SPE_E5")]
        let frontlineDisabled: [GUID] = {
            let allowed: Set<String> = [
                "EXCHANGE_S_STANDARD", "TEAMS1", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "FORMS_PLAN_E1",
            ]
            return SampleTenant.sku("STANDARDPACK").servicePlans.filter { !allowed.contains($0.name) }.map(\.id)
                .sorted()
        }()
    }

    private func produce<Sink: TenantSink>(into sink: inout Sink) {
        let plans = Plans()
        let groupIds = Group.allCases.map { group in
            var random = SplitMix64(seed, stream: 7, index: UInt64(group.rawValue))
            return random.guid()
        }
        let skuIds = Dictionary(uniqueKeysWithValues: SampleTenant.catalog.map { ($0.skuPartNumber, $0.skuId) })
        let partNumbers = Dictionary(uniqueKeysWithValues: skuIds.map { ($0.value, $0.key) })
        var members = [[Int32]](repeating: [], count: Group.allCases.count)
        var holders: [String: Int] = [:]
        var desiredCount: [String: Int] = [:]
        var legitimateHolders: [String: Int] = [:]
        var nameCounts: [String: Int] = [:]

        for index in 0..<users {
            var person = makePerson(index, nameCounts: &nameCounts)
            grantDesired(&person, plans: plans)
            for (sku, _) in person.desired { desiredCount[sku, default: 0] += 1 }
            var states = holdings(of: person, plans: plans, skuIds: skuIds, groupIds: groupIds)
            var random = SplitMix64(seed, stream: 2, index: UInt64(index))
            if random.chance(driftPercent / 100) {
                applyDrift(to: &states, person: person, random: &random, plans: plans, skuIds: skuIds)
            }
            let normalized = HoldingRecord.normalized(states)
            person.user.licenseAssignmentStates = normalized
            person.user.assignedLicenses = HoldingRecord.assignedLicenses(from: normalized)
            for license in person.user.assignedLicenses {
                guard let part = partNumbers[license.skuId] else { continue }
                holders[part, default: 0] += 1
                if person.desired.contains(where: { $0.0 == part }) { legitimateHolders[part, default: 0] += 1 }
            }
            for group in person.groups { members[group.rawValue].append(Int32(index)) }
            if let reference = lifecycleDatesAsOf {
                var random = SplitMix64(seed, stream: 5, index: UInt64(index))
                LifecycleDates(reference: reference).add(to: &person.user, isBreakGlass: index == 0, random: &random)
            }
            sink.user(person.user, index: index)
        }

        for group in Group.allCases {
            let nested: [GUID] =
                group == .engineering
                ? [groupIds[Group.platformEngineering.rawValue], groupIds[Group.dataEngineering.rawValue]] : []
            let visibility =
                group.displayName.lowercased() == hiddenMembershipGroup?.lowercased() ? "HiddenMembership" : nil
            sink.group(
                id: groupIds[group.rawValue],
                displayName: group.displayName,
                visibility: visibility,
                members: members[group.rawValue],
                memberGroups: nested
            )
        }

        for entry in SampleTenant.catalog {
            let held = holders[entry.skuPartNumber, default: 0]
            let desired = desiredCount[entry.skuPartNumber, default: 0]
            let prepaid: Int
            if entry.skuPartNumber == "POWER_BI_PRO" {
                // Seats for everyone who holds it rightly, plus all but a few of the adds due.
                let legitimate = legitimateHolders[entry.skuPartNumber, default: 0]
                let addsDue = max(0, desired - legitimate)
                let short = addsDue == 0 ? 0 : max(1, min(addsDue, max(2, desired / 100)))
                prepaid = legitimate + addsDue - short
            } else if SampleTenant.managedSkus.contains(entry.skuPartNumber) {
                prepaid = max(held, desired) + max(5, desired / 20)
            } else {
                prepaid = held + max(10, held / 10)
            }
            sink.sku(entry.subscribedSku(tenantId: SampleTenant.tenantId, prepaid: prepaid, consumed: held))
        }
    }

    private func makePerson(_ index: Int, nameCounts: inout [String: Int]) -> Person {
        var random = SplitMix64(seed, stream: 1, index: UInt64(index))
        var idSource = SplitMix64(seed, stream: 3, index: UInt64(index))
        let id = idSource.guid()
        let country = random.weighted(Self.weightedCountries)
        let city = random.pick(country.cities)
        let given = random.pick(Self.givenNames)
        let surname = random.pick(Self.surnames)
        let isBreakGlass = index == 0
        let isGuest = !isBreakGlass && random.chance(0.03)
        let enabled = isBreakGlass || random.chance(0.96)
        let usageDraw = random.unit()
        let usageLocation: String? =
            isBreakGlass
            ? "US" : usageDraw < 0.02 ? nil : usageDraw < 0.04 ? random.pick(Self.countries).code : country.code

        var properties: [String: JSONValue] = [:]
        var groups: [Group] = []
        let upn: String
        var extensionAttributes = Self.emptyExtensionAttributes
        if isBreakGlass {
            upn = SampleTenant.breakGlassUser
            properties["displayName"] = .string("Break Glass (emergency access)")
            properties["companyName"] = .string("Contoso")
            properties["employeeType"] = .string("Service")
            groups.append(.licenseExempt)
        } else {
            let key = "\(given).\(surname)".lowercased()
            let seen = nameCounts[key, default: 0]
            nameCounts[key] = seen + 1
            let local = seen == 0 ? key : "\(key)\(seen + 1)"
            properties["displayName"] = .string("\(given) \(surname)")
            properties["givenName"] = .string(given)
            properties["surname"] = .string(surname)
            if isGuest {
                upn = "\(local)_fabrikam.com#EXT#@\(SampleTenant.tenantDomain)"
                properties["mail"] = .string("\(local)@fabrikam.com")
                properties["companyName"] = .string("Fabrikam")
            } else {
                upn = "\(local)@\(SampleTenant.userDomain)"
                properties["mail"] = .string(upn)
                properties["companyName"] = .string("Contoso")
                let department = random.weighted(Self.weightedDepartments)
                let title = random.weighted(department.titles)
                let employeeType = random.weighted(Self.employeeTypes)
                properties["department"] = .string(department.name)
                properties["jobTitle"] = .string(title)
                properties["employeeType"] = .string(employeeType)
                properties["officeLocation"] = .string("\(city) - Building \(random.below(4) + 1)")
                extensionAttributes["extensionAttribute2"] = .string("CC-\(department.name.prefix(3).uppercased())")
                if title.hasSuffix("Architect") {
                    if random.chance(0.8) { extensionAttributes["extensionAttribute1"] = .string("VISIO") }
                } else if random.chance(0.03) {
                    extensionAttributes["extensionAttribute1"] = .string("LEGACY")
                }
                groups.append(.allEmployees)
                groups.append(.department(department.name))
                if title.contains("Manager") { groups.append(.managers) }
                if employeeType == "Contractor" { groups.append(.contractors) }
                switch (department.name, title) {
                case ("Engineering", "Platform Engineer"), ("Engineering", "Site Reliability Engineer"):
                    groups += [.platformEngineering, .engineering]
                case ("Engineering", _): groups.append(.engineering)
                case ("Data", "Data Engineer"): groups += [.dataEngineering, .engineering]
                case ("Operations", "Store Associate") where random.chance(0.9): groups.append(.frontlineWorkers)
                default: break
                }
                if title == "Project Manager" { groups.append(.pmo) }
                if department.name == "Marketing" || department.name == "Legal" { groups.append(.groupBasedE3) }
                if random.chance(0.005) { groups.append(.licenseExempt) }
            }
            properties["preferredLanguage"] = .string(country.language)
        }
        properties["country"] = .string(country.code)
        properties["city"] = .string(city)
        properties["userType"] = .string(isGuest ? "Guest" : "Member")
        properties["accountEnabled"] = .bool(enabled)
        properties["onPremisesExtensionAttributes"] = .object(extensionAttributes)
        let user = DirectoryUser(id: id, userPrincipalName: upn, usageLocation: usageLocation, properties: properties)
        return Person(id: id, index: index, user: user, groups: groups)
    }

    /// What `policies/` grants (the sample-tenant brief): staff E3, engineering E5 (replacing
    /// E3), frontline E1 with an allow-list, Power BI for finance and analysts, Project for the
    /// PMO, Visio for tagged architects.
    private func grantDesired(_ person: inout Person, plans: Plans) {
        let user = person.user
        func text(_ name: String) -> String? { user.properties[name]?.stringValue }
        let enabled = user.properties["accountEnabled"] == .bool(true)
        let member = text("userType") == "Member"
        let exempt = person.groups.contains(.licenseExempt)
        let frontline = person.groups.contains(.frontlineWorkers)
        let title = text("jobTitle") ?? ""
        var desired: [(String, [GUID])] = []
        let engineering = person.groups.contains(.engineering) && enabled && !exempt
        if engineering {
            desired.append(("SPE_E5", plans.e5Disabled))
        } else if enabled, member, !exempt, !frontline, user.userPrincipalName != SampleTenant.breakGlassUser {
            desired.append(("SPE_E3", plans.e3Disabled))
        }
        if frontline, enabled { desired.append(("STANDARDPACK", plans.frontlineDisabled)) }
        let financial = ["Finance", "Sales Operations"].contains(text("department") ?? "") && enabled
        let analyst =
            title.lowercased().split(separator: " ").contains("analyst")
            && !["CN", "RU"].contains(text("country") ?? "")
        if financial || analyst { desired.append(("POWER_BI_PRO", [])) }
        if person.groups.contains(.pmo) { desired.append(("PROJECTPROFESSIONAL", [])) }
        if title.hasSuffix("Architect"),
            case let .object(attributes)? = user.properties["onPremisesExtensionAttributes"],
            attributes["extensionAttribute1"] != nil, attributes["extensionAttribute1"] != .null
        {
            desired.append(("VISIOCLIENT", []))
        }
        person.desired = desired
    }

    /// The license sources a converged tenant would show: the desired SKUs directly (when the
    /// user has a usage location), the group-based E3, and some unmanaged SKUs.
    private func holdings(
        of person: Person,
        plans: Plans,
        skuIds: [String: GUID],
        groupIds: [GUID]
    ) -> [LicenseAssignmentState] {
        var random = SplitMix64(seed, stream: 4, index: UInt64(person.index))
        var states: [LicenseAssignmentState] = []
        if person.user.usageLocation != nil {
            for (sku, disabled) in person.desired {
                states.append(LicenseAssignmentState(skuId: skuIds[sku]!, disabledPlans: disabled))
            }
        }
        if person.groups.contains(.groupBasedE3) {
            let failed = random.chance(0.03)
            states.append(
                LicenseAssignmentState(
                    skuId: skuIds["SPE_E3"]!,
                    disabledPlans: [],
                    assignedByGroup: groupIds[Group.groupBasedE3.rawValue],
                    state: failed ? "Error" : "Active",
                    error: failed ? "CountViolation" : nil
                )
            )
        }
        let enabledMember =
            person.user.properties["accountEnabled"] == .bool(true)
            && person.user.properties["userType"]?.stringValue == "Member"
        if person.user.usageLocation != nil, enabledMember, person.user.userPrincipalName != SampleTenant.breakGlassUser
        {
            if random.chance(0.25) { states.append(LicenseAssignmentState(skuId: skuIds["EMS"]!)) }
            if random.chance(0.08) { states.append(LicenseAssignmentState(skuId: skuIds["FLOW_FREE"]!)) }
            if person.groups.contains(.frontlineWorkers), random.chance(0.1) {
                states.append(LicenseAssignmentState(skuId: skuIds["TEAMS_EXPLORATORY"]!))
            }
        }
        return states
    }

    /// Makes one user differ from what the policies want.
    private func applyDrift(
        to states: inout [LicenseAssignmentState],
        person: Person,
        random: inout SplitMix64,
        plans: Plans,
        skuIds: [String: GUID]
    ) {
        let managed = Set(SampleTenant.managedSkus.map { skuIds[$0]! })
        let direct = states.indices.filter { states[$0].isDirect && managed.contains(states[$0].skuId) }
        enum Drift { case missing, extra, wrongPlans, engineerOnE3, groupOnly }
        var kinds: [Drift] = [.extra]
        if !direct.isEmpty { kinds += [.missing, .wrongPlans] }
        if direct.contains(where: { states[$0].skuId == skuIds["SPE_E5"]! }) { kinds.append(.engineerOnE3) }
        let groupE3 = states.contains { !$0.isDirect && $0.skuId == skuIds["SPE_E3"]! }
        if groupE3, direct.contains(where: { states[$0].skuId == skuIds["SPE_E3"]! }) { kinds.append(.groupOnly) }
        guard person.user.usageLocation != nil else { return }
        switch random.pick(kinds) {
        case .missing:
            states.remove(at: random.pick(direct))
        case .extra:
            let candidates = ["VISIOCLIENT", "POWER_BI_PRO"].map { skuIds[$0]! }.filter { sku in
                !states.contains { $0.skuId == sku }
            }
            if let sku = candidates.first { states.append(LicenseAssignmentState(skuId: sku)) }
        case .wrongPlans:
            let index = random.pick(direct)
            states[index].disabledPlans =
                states[index].disabledPlans.isEmpty
                ? [SampleTenant.catalog.first { $0.skuId == states[index].skuId }!.servicePlans.last!.id]
                : []
        case .engineerOnE3:
            states.removeAll { $0.isDirect && $0.skuId == skuIds["SPE_E5"]! }
            states.append(LicenseAssignmentState(skuId: skuIds["SPE_E3"]!, disabledPlans: plans.e3Disabled))
        case .groupOnly:
            states.removeAll { $0.isDirect && $0.skuId == skuIds["SPE_E3"]! }
        }
    }
}

/// Where generated users, groups and SKUs go.
private protocol TenantSink {
    mutating func user(_ user: DirectoryUser, index: Int)
    mutating func group(id: GUID, displayName: String, visibility: String?, members: [Int32], memberGroups: [GUID])
    mutating func sku(_ sku: SubscribedSku)
}

private struct SnapshotSink: TenantSink {
    var users: [DirectoryUser] = []
    var groups: [DirectoryGroup] = []
    var skus: [SubscribedSku] = []

    mutating func user(_ user: DirectoryUser, index: Int) { users.append(user) }

    mutating func group(id: GUID, displayName: String, visibility: String?, members: [Int32], memberGroups: [GUID]) {
        groups.append(
            DirectoryGroup(
                id: id,
                displayName: displayName,
                members: members.map { users[Int($0)].id },
                memberGroups: memberGroups,
                visibility: visibility
            )
        )
    }

    mutating func sku(_ sku: SubscribedSku) { skus.append(sku) }
}

private struct DirectorySink: TenantSink {
    var directory: Directory

    mutating func user(_ user: DirectoryUser, index: Int) {
        // Generated ids and names are unique by construction.
        try! directory.addUser(user)
    }

    mutating func group(id: GUID, displayName: String, visibility: String?, members: [Int32], memberGroups: [GUID]) {
        try! directory.addGroup(
            id: id,
            displayName: displayName,
            visibility: visibility,
            memberIndices: members,
            memberGroups: memberGroups
        )
    }

    mutating func sku(_ sku: SubscribedSku) {
        try! directory.addSku(sku)
    }
}

/// One stream of the core's SplitMix64 per (seed, purpose, user), so that changing the drift
/// share does not change who the users are.
extension SplitMix64 {
    init(_ seed: UInt64, stream: UInt64, index: UInt64) {
        var mixer = SplitMix64(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        let a = mixer.next()
        mixer = SplitMix64(seed: a ^ (stream &* 0xBF58_476D_1CE4_E5B9))
        let b = mixer.next()
        self.init(seed: b ^ (index &* 0x94D0_49BB_1331_11EB))
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    mutating func pick<T>(_ items: [T]) -> T {
        items[below(items.count)]
    }

    mutating func weighted<T>(_ items: [(T, Int)]) -> T {
        var draw = below(items.reduce(0) { $0 + $1.1 })
        for (item, weight) in items {
            if draw < weight { return item }
            draw -= weight
        }
        return items[items.count - 1].0
    }

    /// A random version-4 GUID.
    mutating func guid() -> GUID {
        let high = next() & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return GUID(high: high, low: low)
    }
}
