import Foundation
import AllotCore
import AllotTools

/// A large, realistic, deterministic tenant and policy set for the planner benchmark,
/// streamed straight into a ``TenantBuilder`` (no JSON, no per-user structs kept).
///
/// Users have departments, countries, job titles (about 1,500 distinct), cities, employee
/// types and an extension attribute; 60 groups with nesting; 10 managed SKUs from Microsoft's
/// catalog plus one unmanaged. Licenses are what the policies want for all but `driftPercent`
/// of the users, who miss a SKU, hold an extra one, have other plans, still hold E3 instead of
/// E5, or have no usage location; some hold E3 through group-based licensing.
struct SyntheticTenant {
    let userCount: Int
    let seed: UInt64
    let driftPercent: Double
    /// Users carry dates and five policies test them (`--date-rules`).
    var dateRules = false

    /// The moment the benchmark's policies are evaluated as of: 2026-12-07T00:00:00Z.
    static let evaluatedAt: Int64 = 1_796_601_600

    static let attributes = [
        "department", "country", "jobTitle", "accountEnabled", "userType", "employeeType", "city",
        "onPremisesExtensionAttributes.extensionAttribute1",
    ]
    static let dateAttributes = ["createdDateTime", "employeeHireDate", "signInActivity.lastSuccessfulSignInDateTime"]

    /// The attribute paths the tenant holds.
    var attributes: [String] { Self.attributes + (dateRules ? Self.dateAttributes : []) }
    static let managed = [
        "SPE_E3", "SPE_E5", "ENTERPRISEPACK", "STANDARDPACK", "EMS", "AAD_PREMIUM", "POWER_BI_PRO", "VISIOCLIENT",
        "PROJECTPROFESSIONAL", "TEAMS_EXPLORATORY",
    ]
    static let departments = [
        "Engineering", "Sales", "Sales Operations", "Finance", "Marketing", "Support", "Operations", "HR", "Legal",
        "Data", "IT",
        "Research",
    ]
    static let roles: [String: [String]] = [
        "Engineering": [
            "Software Engineer", "Site Reliability Engineer", "Solutions Architect", "Engineering Manager",
            "QA Engineer",
        ],
        "Sales": [
            "Account Executive", "Sales Manager", "Sales Engineer", "Business Development Representative",
            "Account Manager",
        ],
        "Sales Operations": [
            "Sales Analyst", "Operations Analyst", "CRM Administrator", "Deal Desk Specialist", "Sales Ops Manager",
        ],
        "Finance": ["Financial Analyst", "Accountant", "Controller", "Treasury Analyst", "Payroll Specialist"],
        "Marketing": [
            "Marketing Manager", "Content Writer", "Designer", "Product Marketing Manager", "Marketing Analyst",
        ],
        "Support": [
            "Support Engineer", "Support Specialist", "Customer Success Manager", "Support Manager", "Technical Writer",
        ],
        "Operations": [
            "Store Associate", "Warehouse Associate", "Shift Lead", "Logistics Coordinator", "Operations Manager",
        ],
        "HR": ["HR Business Partner", "Recruiter", "HR Generalist", "Compensation Analyst", "People Manager"],
        "Legal": ["Counsel", "Paralegal", "Compliance Officer", "Contract Manager", "Privacy Analyst"],
        "Data": ["Data Analyst", "Data Engineer", "Data Scientist", "Analytics Manager", "BI Developer"],
        "IT": [
            "Systems Administrator", "Network Engineer", "Enterprise Architect", "IT Support Technician",
            "Security Analyst",
        ],
        "Research": [
            "Research Scientist", "Research Engineer", "Lab Technician", "Principal Researcher", "Research Manager",
        ],
    ]
    static let seniorities = ["", "Junior ", "Senior ", "Principal ", "Staff ", "Lead "]
    static let countries = [
        "US", "GB", "DE", "FR", "NL", "IN", "JP", "CA", "AU", "BR", "CN", "ES", "IT", "SE", "PL", "MX", "SG", "IE",
        "CH", "RU",
    ]

    /// A user's attributes, derived from its generation index alone.
    struct Person {
        var id: GUID
        var principalName: String
        var values: [JSONValue?]
        var department: Int
        var hasUsageLocation: Bool
    }

    func person(_ index: Int) -> Person {
        var random = SplitMix64(seed: seed &* 0x1_0000_01B3 &+ UInt64(index))
        let department = random.below(Self.departments.count)
        let name = Self.departments[department]
        let role = Self.roles[name]![random.below(5)]
        let seniority = Self.seniorities[random.below(Self.seniorities.count)]
        let level = random.below(8)
        let title = seniority + role + (level < 5 ? "" : " \(["I", "II", "III"][level - 5])")
        let country = Self.countries[min(random.below(40), Self.countries.count - 1)]
        let hasUsageLocation = random.chance(0.98)
        let enabled = random.chance(0.96)
        let guest = random.chance(0.03)
        let employeeType = random.chance(0.08) ? "Contractor" : (random.chance(0.02) ? "Intern" : "Employee")
        let city = "\(country)-City-\(random.below(15))"
        let extensionAttribute: JSONValue? =
            random.chance(0.7)
            ? nil : .string(["E5", "E3", "VISIO", "PROJ", "F1"][random.below(5)] + "-\(random.below(12))")
        let id = GUID(high: random.next(), low: random.next())
        let principal = "u\(index).\(name.prefix(3).lowercased())@contoso.com"
        return Person(
            id: id,
            principalName: guest ? "u\(index)_fabrikam.com#EXT#@contoso.onmicrosoft.com" : principal,
            values: [
                hasUsageLocation ? .string(country) : nil, .string(name), .string(country), .string(title),
                .bool(enabled),
                .string(guest ? "Guest" : "Member"), .string(employeeType), .string(city), extensionAttribute,
            ] + (dateRules ? dates(index) : []),
            department: department,
            hasUsageLocation: hasUsageLocation
        )
    }

    /// A user's creation, hire and last successful sign-in dates (``dateAttributes``), to the
    /// second as Graph writes them, from a random stream of their own: 1 % joiners (hired up to
    /// 30 days ahead, never signed in), 3 % never signed in, 15 % inactive for 30 to 540 days.
    func dates(_ index: Int) -> [JSONValue?] {
        var random = SplitMix64(seed: (seed ^ 0xDA7E5) &* 0x1_0000_01B3 &+ UInt64(index))
        let day: Int64 = 86_400
        func secondsAgo(days: ClosedRange<Int>) -> Int64 {
            Self.evaluatedAt - Int64(days.lowerBound + random.below(days.count)) * day - Int64(random.below(86_400))
        }
        var created = secondsAgo(days: 30...2_920)
        var hire: Int64? = (created / day + Int64(random.below(14))) * day
        var signIn: Int64?
        switch random.below(100) {
        case 0:
            created = secondsAgo(days: 0...14)
            hire = (Self.evaluatedAt / day + 1 + Int64(random.below(30))) * day
        case 1...3: signIn = nil
        case 4...18: signIn = secondsAgo(days: 30...540)
        default: signIn = secondsAgo(days: 0...14)
        }
        if let last = signIn { created = min(created, last - day) }
        if random.chance(0.15) { hire = nil }
        return [
            .string(PolicyDates.text(created)), hire.map { .string(PolicyDates.text($0)) },
            signIn.map { .string(PolicyDates.text($0)) },
        ]
    }

    /// 60 groups: a group per department, four divisions nesting them, 40 team groups (some
    /// nested into 4 programme groups), an exemption group and a group-based-licensing group.
    func groups(ids: [GUID]) -> [DirectoryGroup] {
        var random = SplitMix64(seed: seed ^ 0x5EED)
        var members: [[GUID]] = Array(repeating: [], count: Self.departments.count)
        var teams: [[GUID]] = Array(repeating: [], count: 40)
        var exempt: [GUID] = []
        for (index, id) in ids.enumerated() {
            members[person(index).department].append(id)
            if random.chance(0.2) { teams[random.below(40)].append(id) }
            if random.chance(0.003) { exempt.append(id) }
        }
        var groups: [DirectoryGroup] = []
        func group(_ name: String, _ members: [GUID]) {
            groups.append(
                DirectoryGroup(
                    id: GUID(high: 0xABCD_0000_0000_0000 | UInt64(groups.count), low: 1),
                    displayName: name,
                    members: members
                )
            )
        }
        for (index, department) in Self.departments.enumerated() { group("Dept \(department)", members[index]) }
        for (division, departments) in [
            ("Technology", [0, 9, 10, 11]), ("Commercial", [1, 2, 4]), ("Corporate", [3, 7, 8]), ("Field", [5, 6]),
        ] {
            group("Division \(division)", departments.flatMap { members[$0] })
        }
        for (index, team) in teams.enumerated() { group("Team \(index)", team) }
        for programme in 0..<2 { group("Programme \(programme)", (0..<10).flatMap { teams[programme * 10 + $0] }) }
        group("License Exempt", exempt)
        group("GBL Microsoft 365 E3", [])
        return groups
    }

    /// 50 policies: a baseline, group-based E5 upgrades, department add-ons, job-title
    /// regular expressions, location and employment rules, extension-attribute rules.
    func policies() -> [Policy] {
        func attribute(_ path: String, _ op: AttributeOperator) -> AttributeCondition {
            AttributeCondition(path: path, operators: [op])
        }
        func grant(
            _ sku: String,
            disabled: [String] = [],
            enabled: [String]? = nil,
            replaces: [String] = []
        ) -> Policy.LicenseGrant {
            Policy.LicenseGrant(
                sku: Reference(sku),
                plans: enabled.map { .enabled($0.map { Reference($0) }) }
                    ?? (disabled.isEmpty ? .all : .disabled(disabled.map { Reference($0) })),
                replaces: replaces.map { Reference($0) }
            )
        }
        let enabledMember = [
            attribute("accountEnabled", .equals(.bool(true))), attribute("userType", .equals("Member")),
        ]
        let exempt = Policy.Exclusion(groups: [Reference("License Exempt")])
        var policies = [
            Policy(
                name: "baseline-e3",
                priority: 10,
                match: Policy.Match(
                    attributes: enabledMember + [attribute("employeeType", .noneOf(["Contractor"]))],
                    exclude: exempt
                ),
                licenses: [grant("SPE_E3", disabled: ["YAMMER_ENTERPRISE", "KAIZALA_O365_P3"])]
            )
        ]
        let upgradeGroups =
            ["Division Technology", "Dept Legal", "Programme 0", "Programme 1"] + (20..<26).map { "Team \($0)" }
        for (index, name) in upgradeGroups.enumerated() {
            policies.append(
                Policy(
                    name: "e5-\(index)",
                    priority: 100 - index,
                    match: Policy.Match(
                        groups: [Reference(name)],
                        attributes: [attribute("accountEnabled", .equals(.bool(true)))],
                        exclude: exempt
                    ),
                    licenses: [
                        grant(
                            "SPE_E5",
                            disabled: index.isMultiple(of: 2) ? ["YAMMER_ENTERPRISE"] : ["YAMMER_ENTERPRISE", "SWAY"],
                            replaces: ["SPE_E3"]
                        )
                    ]
                )
            )
        }
        let addOns = ["POWER_BI_PRO", "VISIOCLIENT", "PROJECTPROFESSIONAL", "EMS", "AAD_PREMIUM", "TEAMS_EXPLORATORY"]
        for (index, department) in Self.departments.enumerated() {
            policies.append(
                Policy(
                    name: "dept-\(department.lowercased().replacingOccurrences(of: " ", with: "-"))",
                    priority: 50,
                    match: Policy.Match(
                        groups: [Reference("Dept \(department)")],
                        attributes: [attribute("country", .noneOf(["CN", "RU"]))]
                    ),
                    licenses: [grant(addOns[index % addOns.count])]
                )
            )
        }
        let titles: [(String, String)] = [
            (#"\b(senior|principal|staff) .*engineer"#, "VISIOCLIENT"), (#"analyst\b"#, "POWER_BI_PRO"),
            (#"^(lead|principal) "#, "PROJECTPROFESSIONAL"),
            ("architect", "VISIOCLIENT"), (#"manager$"#, "PROJECTPROFESSIONAL"),
            (#"data (scientist|engineer)"#, "POWER_BI_PRO"),
            (#"security|compliance|privacy"#, "AAD_PREMIUM"), (#"^junior"#, "TEAMS_EXPLORATORY"), (#"\bIII$"#, "EMS"),
            (#"(recruiter|hr )"#, "AAD_PREMIUM"), (#"designer|writer"#, "VISIOCLIENT"),
            (#"administrator|technician"#, "EMS"),
        ]
        for (index, (pattern, sku)) in titles.enumerated() {
            policies.append(
                Policy(
                    name: "title-\(index)",
                    priority: 40,
                    match: Policy.Match(attributes: [
                        attribute("jobTitle", .matches(pattern)), attribute("accountEnabled", .equals(.bool(true))),
                    ]),
                    licenses: [grant(sku)]
                )
            )
        }
        let rules: [(String, [AttributeCondition], Policy.LicenseGrant)] = [
            (
                "contractors-e1", [attribute("employeeType", .equals("Contractor"))],
                grant(
                    "STANDARDPACK",
                    enabled: ["EXCHANGE_S_STANDARD", "TEAMS1", "SHAREPOINTSTANDARD", "SHAREPOINTWAC"]
                )
            ),
            ("eu-ems", [attribute("country", .anyOf(["DE", "FR", "NL", "ES", "IT", "SE", "PL", "IE"]))], grant("EMS")),
            (
                "apac-teams",
                [attribute("country", .anyOf(["JP", "IN", "AU", "SG"])), attribute("userType", .equals("Member"))],
                grant("TEAMS_EXPLORATORY")
            ),
            ("interns", [attribute("employeeType", .equals("Intern"))], grant("TEAMS_EXPLORATORY")),
            ("city-0", [attribute("city", .endsWith(["-City-0"]))], grant("AAD_PREMIUM")),
            (
                "us-sales", [attribute("country", .equals("US")), attribute("department", .startsWith(["Sales"]))],
                grant("POWER_BI_PRO")
            ),
            (
                "gb-legal", [attribute("country", .equals("GB")), attribute("department", .equals("Legal"))],
                grant("ENTERPRISEPACK", disabled: ["SWAY"])
            ),
            (
                "guests", [attribute("userType", .equals("Guest")), attribute("accountEnabled", .equals(.bool(true)))],
                grant("TEAMS_EXPLORATORY")
            ),
        ]
        for (name, conditions, grant) in rules {
            policies.append(
                Policy(name: name, priority: 20, match: Policy.Match(attributes: conditions), licenses: [grant])
            )
        }
        let extensionPath = "onPremisesExtensionAttributes.extensionAttribute1"
        let extensions: [(AttributeOperator, String)] = [
            (.startsWith(["E5"]), "SPE_E5"), (.startsWith(["VISIO"]), "VISIOCLIENT"),
            (.startsWith(["PROJ"]), "PROJECTPROFESSIONAL"),
            (.matches(#"^E3-(1|2)$"#), "EMS"), (.endsWith(["-11"]), "AAD_PREMIUM"),
            (.exists(true), "TEAMS_EXPLORATORY"),
            (.anyOf(["F1-0", "F1-1", "F1-2"]), "STANDARDPACK"),
        ]
        for (index, (op, sku)) in extensions.enumerated() {
            policies.append(
                Policy(
                    name: "ext-\(index)",
                    priority: 30,
                    match: Policy.Match(attributes: [attribute(extensionPath, op)], exclude: exempt),
                    licenses: [grant(sku, replaces: sku == "SPE_E5" ? ["SPE_E3"] : [])]
                )
            )
        }
        return dateRules ? withDateRules(policies) : policies
    }

    /// Five of the policies as lifecycle rules: E3 and one E5 upgrade reclaimed from inactive
    /// users, contractors licensed from their hire date, interns while their account is young,
    /// guests while they sign in.
    private func withDateRules(_ policies: [Policy]) -> [Policy] {
        let day: Int64 = 86_400
        let signIn = "signInActivity.lastSuccessfulSignInDateTime"
        let rules: [String: (exclude: Bool, condition: AttributeCondition)] = [
            "baseline-e3": (true, AttributeCondition(path: signIn, operators: [.olderThan(180 * day)])),
            "e5-0": (true, AttributeCondition(path: signIn, operators: [.olderThan(90 * day)])),
            "contractors-e1": (false, AttributeCondition(path: "employeeHireDate", operators: [.olderThan(0)])),
            "interns": (false, AttributeCondition(path: "createdDateTime", operators: [.withinLast(365 * day)])),
            "guests": (false, AttributeCondition(path: signIn, operators: [.withinLast(90 * day)])),
        ]
        return policies.map { policy in
            guard let rule = rules[policy.name] else { return policy }
            var policy = policy
            if rule.exclude {
                policy.match.exclude.attributes.append(rule.condition)
            } else {
                policy.match.attributes.append(rule.condition)
            }
            return policy
        }
    }

    func settings() -> ReconcileSettings {
        ReconcileSettings(
            managedSkus: Self.managed.map { Reference($0) },
            defaultUsageLocation: "US",
            guardrail: RemovalGuard(maxRemovals: userCount, maxRemovalPercent: 100)
        )
    }

    /// The tenant: first without licenses to learn what the policies want, then with licenses
    /// that match it except for the drifted users. Returns the second.
    func build() throws -> TenantModel {
        let ids = (0..<userCount).map { person($0).id }
        let groups = groups(ids: ids)
        let catalog = Self.managed.map { SkuCatalog.entry($0)! }
        // Pass 1: who wants what.
        var bare = TenantBuilder(attributes: attributes)
        bare.reserveCapacity(users: userCount)
        let none = bare.internHolding(LicenseHolding(assignedLicenses: [], states: []))
        for index in 0..<userCount {
            let person = person(index)
            bare.addUser(id: person.id, principalName: person.principalName, values: person.values, holding: none)
        }
        for group in groups { bare.add(group) }
        for entry in catalog { bare.add(entry.subscribedSku(prepaid: userCount)) }
        let wanted: [[AssignedLicense]]
        let entryOfGenerated: [UInt32]
        do {
            let tenant = try bare.build()
            let planner = Planner(
                tenant: tenant,
                policies: try CompiledPolicies(
                    policies: policies(),
                    settings: settings(),
                    tenant: tenant,
                    evaluatedAt: Self.evaluatedAt
                ),
                settings: settings()
            )
            let assignments = planner.desiredAssignments()
            wanted = assignments.licensesOfEntry
            entryOfGenerated = ids.map { assignments.entryOfUser[tenant.userIndex(for: $0)!] }
        }
        // Pass 2: the tenant as it is, drift included.
        var random = SplitMix64(seed: seed ^ 0xD81F7)
        var builder = TenantBuilder(attributes: attributes)
        builder.reserveCapacity(users: userCount)
        var consumed = [GUID: Int]()
        var holdingOfWanted: [UInt32: UInt32] = [:]
        let flowFree = SkuCatalog.entry("FLOW_FREE")!
        let e3 = SkuCatalog.entry("SPE_E3")!.skuId
        let e5 = SkuCatalog.entry("SPE_E5")!.skuId
        let gblGroup = groups.last!.id
        var gblMembers: [GUID] = []
        for index in 0..<userCount {
            var person = person(index)
            let entry = entryOfGenerated[index]
            var licenses = wanted[Int(entry)]
            var states = licenses.map { LicenseAssignmentState(skuId: $0.skuId, disabledPlans: $0.disabledPlans) }
            let drifted = random.chance(driftPercent / 100)
            if drifted {
                switch random.below(5) {
                case 0: if !states.isEmpty { states.remove(at: random.below(states.count)) }
                case 1:
                    let extra = catalog[random.below(catalog.count)].skuId
                    if !states.contains(where: { $0.skuId == extra }) {
                        states.append(LicenseAssignmentState(skuId: extra))
                    }
                case 2: if !states.isEmpty { states[random.below(states.count)].disabledPlans = [] }
                case 3: states = states.map { $0.skuId == e5 ? LicenseAssignmentState(skuId: e3) : $0 }
                default:
                    person.values[0] = nil
                    states = []
                }
            } else if let e3Index = states.firstIndex(where: { $0.skuId == e3 }), random.chance(0.05) {
                states[e3Index].assignedByGroup = gblGroup
                gblMembers.append(person.id)
            }
            if random.chance(0.2) { states.append(LicenseAssignmentState(skuId: flowFree.skuId)) }
            licenses = states.map { AssignedLicense(skuId: $0.skuId, disabledPlans: $0.disabledPlans) }
            for license in licenses { consumed[license.skuId, default: 0] += 1 }
            let holding: UInt32
            if !drifted, states.allSatisfy(\.isDirect), states.count == wanted[Int(entry)].count,
                let known = holdingOfWanted[entry]
            {
                holding = known
            } else {
                holding = builder.internHolding(LicenseHolding(assignedLicenses: licenses, states: states))
                if !drifted, states.allSatisfy(\.isDirect), states.count == wanted[Int(entry)].count {
                    holdingOfWanted[entry] = holding
                }
            }
            builder.addUser(id: person.id, principalName: person.principalName, values: person.values, holding: holding)
        }
        for group in groups.dropLast() { builder.add(group) }
        builder.add(DirectoryGroup(id: gblGroup, displayName: groups.last!.displayName, members: gblMembers))
        for entry in catalog + [flowFree] {
            let used = consumed[entry.skuId, default: 0]
            // Every SKU has room for the drift to be repaired but POWER_BI_PRO, which is 2% short.
            let prepaid = entry.skuPartNumber == "POWER_BI_PRO" ? used + used / 100 - used / 50 : used + used / 20 + 10
            builder.add(entry.subscribedSku(prepaid: prepaid, consumed: used))
        }
        return try builder.build()
    }
}
