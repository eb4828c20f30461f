import Testing

@testable import AllotCore

/// The attribute operators and match clauses, as the brief's "Precise definitions" state them.
@Suite("Policy matching")
struct PolicyMatchingTests {
    /// The names of the users one condition matches, among a small cast.
    func matched(_ path: String, _ operators: [AttributeOperator], extra: [String: JSONValue] = [:]) throws -> [String]
    {
        let cast: [(String, [String: JSONValue])] = [
            (
                "eng",
                [
                    "department": "Engineering", "jobTitle": "Senior Engineer", "accountEnabled": true,
                    "otherMails": ["a@x.com", "b@y.com"],
                    "onPremisesExtensionAttributes": ["extensionAttribute1": "E5-eng"],
                ]
            ),
            ("rnd", ["department": "R&D", "jobTitle": "Researcher", "accountEnabled": false]),
            ("empty", ["department": "", "jobTitle": .null, "otherMails": []]),
            ("absent", [:]),
        ]
        let users = cast.enumerated().map {
            Fixture.user($0.offset + 1, $0.element.0, $0.element.1.merging(extra) { $1 })
        }
        let tenant = try Fixture.tenant(skus: [Fixture.e3()], users: users, attributes: [path])
        let policy = Fixture.policy(
            "p",
            match: Policy.Match(attributes: [AttributeCondition(path: path, operators: operators)]),
            grants: [Fixture.grant("SPE_E3")]
        )
        return try Fixture.plan(tenant, [policy]).changes.map { String($0.userPrincipalName.prefix { $0 != "@" }) }
    }

    @Test("a scalar equals, ignoring case")
    func equalsIgnoringCase() throws {
        #expect(try matched("department", [.equals("engineering")]) == ["eng"])
    }

    @Test("booleans and numbers compare by their text")
    func booleans() throws {
        #expect(try matched("accountEnabled", [.equals(.bool(true))]) == ["eng"])
        #expect(try matched("accountEnabled", [.equals("FALSE")]) == ["rnd"])
    }

    @Test("a list means any of these values")
    func anyOf() throws {
        #expect(try matched("department", [.anyOf(["Engineering", "r&d"])]) == ["eng", "rnd"])
    }

    @Test("missing, null and empty satisfy only notIn and exists: false")
    func missingValues() throws {
        #expect(try matched("department", [.noneOf(["Engineering"])]) == ["rnd", "empty", "absent"])
        #expect(try matched("jobTitle", [.exists(false)]) == ["empty", "absent"])
        #expect(try matched("jobTitle", [.exists(true)]) == ["eng", "rnd"])
        #expect(try matched("jobTitle", [.startsWith([""])]) == ["eng", "rnd"])
        #expect(try matched("jobTitle", [.matches(".*")]) == ["eng", "rnd"])
    }

    @Test("startsWith, endsWith and matches ignore case; matches is an unanchored search")
    func textOperators() throws {
        #expect(try matched("jobTitle", [.startsWith(["senior"])]) == ["eng"])
        #expect(try matched("jobTitle", [.endsWith(["ER"])]) == ["eng", "rnd"])
        #expect(try matched("jobTitle", [.matches("ENGIN")]) == ["eng"])
        #expect(try matched("jobTitle", [.matches("^engineer")]) == [])
    }

    @Test("several operators on one attribute must all hold")
    func operatorsCombine() throws {
        #expect(try matched("jobTitle", [.endsWith(["er"]), .noneOf(["researcher"])]) == ["eng"])
    }

    @Test("a list-valued attribute satisfies an operator when any element does")
    func listValued() throws {
        #expect(try matched("otherMails", [.endsWith(["@y.com"])]) == ["eng"])
        #expect(try matched("otherMails", [.exists(false)]) == ["rnd", "empty", "absent"])
    }

    @Test("dotted names walk nested objects")
    func dottedPaths() throws {
        #expect(try matched("onPremisesExtensionAttributes.extensionAttribute1", [.matches("^E5")]) == ["eng"])
    }

    @Test("groups: member of any of them, nested membership as Graph reports it; [] matches nobody")
    func groups() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3()],
            groups: [Fixture.group(1, "Engineering", members: [1, 2]), Fixture.group(2, "Sales", members: [3])],
            users: (1...4).map { Fixture.user($0, "u\($0)") }
        )
        func names(_ groups: [GroupReference]) throws -> [GUID] {
            try Fixture.plan(
                tenant,
                [Fixture.policy("p", match: Policy.Match(groups: groups), grants: [Fixture.grant("SPE_E3")])]
            ).changes.map(\.userId)
        }
        #expect(
            try names([Reference("engineering"), Reference(Fixture.id(1002).description)]) == [1, 2, 3].map(Fixture.id)
        )
        #expect(try names([]) == [])
    }

    @Test("exclude removes users by group, by UPN or by object id")
    func exclusions() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3()],
            groups: [Fixture.group(1, "License Exempt", members: [1])],
            users: (1...4).map { Fixture.user($0, "u\($0)") }
        )
        let match = Policy.Match(
            all: true,
            exclude: Policy.Exclusion(
                groups: [Reference("License Exempt")],
                users: [Reference("U2@CONTOSO.COM"), Reference(Fixture.id(3).description)]
            )
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("p", match: match, grants: [Fixture.grant("SPE_E3")])])
        #expect(plan.changes.map(\.userId) == [Fixture.id(4)])
        #expect(plan.summary.usersInScope == 1)
    }

    @Test("every clause given must hold")
    func clausesCombine() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3()],
            groups: [Fixture.group(1, "Engineering", members: [1, 2])],
            users: [
                Fixture.user(1, "a", ["country": "US"]), Fixture.user(2, "b", ["country": "CN"]),
                Fixture.user(3, "c", ["country": "US"]),
            ],
            attributes: ["country"]
        )
        let match = Policy.Match(
            groups: [Reference("Engineering")],
            attributes: [AttributeCondition(path: "country", operators: [.noneOf(["cn", "ru"])])]
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("p", match: match, grants: [Fixture.grant("SPE_E3")])])
        #expect(plan.changes.map(\.userId) == [Fixture.id(1)])
    }

    @Test("an attribute the tenant data lacks is a compile error naming it")
    func missingColumn() throws {
        let tenant = try Fixture.tenant(skus: [Fixture.e3()], users: [])
        let condition = AttributeCondition(
            path: "department",
            operators: [.equals("x")],
            location: SourceLocation(file: "p.yaml", line: 7, column: 7)
        )
        let error = #expect(throws: DiagnosticsError.self) {
            try Fixture.plan(
                tenant,
                [Fixture.policy("p", match: Policy.Match(attributes: [condition]), grants: [Fixture.grant("SPE_E3")])]
            )
        }
        #expect(error?.diagnostics.first?.location?.line == 7)
        #expect(error?.description.contains("does not hold attribute 'department'") == true)
    }

    @Test("an unknown plan name is reported with a suggestion")
    func unknownPlan() throws {
        let tenant = try Fixture.tenant(skus: [Fixture.e3()], users: [])
        let error = #expect(throws: DiagnosticsError.self) {
            try Fixture.plan(
                tenant,
                [Fixture.policy("p", grants: [Fixture.grant("SPE_E3", disabled: ["YAMER_ENTERPRISE"])])]
            )
        }
        #expect(
            error?.description.contains(
                "SKU SPE_E3 has no service plan 'YAMER_ENTERPRISE' (did you mean 'YAMMER_ENTERPRISE'?)"
            ) == true
        )
    }
}
