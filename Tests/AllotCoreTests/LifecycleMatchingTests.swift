import Testing

@testable import AllotCore

/// Date attributes and their operators, `exclude.attributes`, and lists for `startsWith` and
/// `endsWith`: the lifecycle rules of the policy language.
@Suite("Lifecycle rules: dates, exclusions by attribute")
struct LifecycleMatchingTests {
    /// 2026-12-07T00:00:00Z, the evaluation time of these tests.
    static let now = PolicyDates.instant("2026-12-07")!
    static let day: Int64 = 86_400

    /// The users matched by one policy at `at`, by name, among users with these sign-in times
    /// (`nil`: never signed in) and the attribute `department`.
    func matched(
        _ match: Policy.Match,
        signIns: [(String, String?)],
        departments: [String: String] = [:],
        at: Int64 = now
    ) throws -> [String] {
        let path = "signInActivity.lastSuccessfulSignInDateTime"
        let users = signIns.enumerated().map { index, entry in
            var properties: [String: JSONValue] = [:]
            if let time = entry.1 { properties["signInActivity"] = ["lastSuccessfulSignInDateTime": .string(time)] }
            if let department = departments[entry.0] { properties["department"] = .string(department) }
            return Fixture.user(index + 1, entry.0, properties)
        }
        let tenant = try Fixture.tenant(skus: [Fixture.e3()], users: users, attributes: [path, "department"])
        let policy = Fixture.policy("p", match: match, grants: [Fixture.grant("SPE_E3")])
        return try Fixture.plan(tenant, [policy], options: PlanningOptions(now: at)).changes.map {
            String($0.userPrincipalName.prefix { $0 != "@" })
        }
    }

    static func signedIn(_ operators: [AttributeOperator]) -> Policy.Match {
        Policy.Match(attributes: [
            AttributeCondition(path: "signInActivity.lastSuccessfulSignInDateTime", operators: operators)
        ])
    }

    let cast: [(String, String?)] = [
        ("recent", "2026-12-01T10:00:00Z"),
        ("idle", "2026-08-01T09:30:00Z"),
        ("never", nil),
        ("garbled", "last Tuesday"),
        ("placeholder", "0001-01-01T00:00:00Z"),
    ]

    @Test("dates parse as instants: a date is midnight UTC, offsets are applied, fractions dropped")
    func parsing() {
        #expect(PolicyDates.instant("1970-01-01") == 0)
        #expect(PolicyDates.instant("1970-01-02T00:00:00Z") == 86_400)
        #expect(PolicyDates.instant("2026-12-07T01:00:00+01:00") == Self.now)
        #expect(PolicyDates.instant("2026-12-06T23:00:00.1234567-01:00") == Self.now)
        #expect(PolicyDates.instant("2024-02-29") != nil)
        for bad in [
            "2026-02-29", "2026-13-01", "2026-12-07T10:00", "2026-12-07T25:00:00Z", "07/12/2026", "2026-12-07 ", "",
            "90d",
        ] {
            #expect(PolicyDates.instant(bad) == nil, "\(bad)")
        }
        #expect(PolicyDates.text(PolicyDates.instant("1969-12-31T23:59:59Z")!) == "1969-12-31T23:59:59Z")
        #expect(PolicyDates.text(PolicyDates.instant("2026-08-01T09:30:00Z")!) == "2026-08-01T09:30:00Z")
    }

    @Test(
        "olderThan and withinLast count back from the evaluation time; missing, garbled or placeholder dates satisfy neither"
    )
    func relative() throws {
        #expect(try matched(Self.signedIn([.olderThan(90 * Self.day)]), signIns: cast) == ["idle"])
        #expect(try matched(Self.signedIn([.withinLast(30 * Self.day)]), signIns: cast) == ["recent"])
        // The same rule four months earlier: nobody was idle yet, and the later sign-in lay in the future.
        let august = PolicyDates.instant("2026-08-02")!
        #expect(try matched(Self.signedIn([.olderThan(90 * Self.day)]), signIns: cast, at: august) == [])
        #expect(try matched(Self.signedIn([.withinLast(30 * Self.day)]), signIns: cast, at: august) == ["idle"])
    }

    @Test("before and after compare with an absolute instant")
    func absolute() throws {
        let cutoff = PolicyDates.instant("2026-09-01")!
        #expect(try matched(Self.signedIn([.before(cutoff)]), signIns: cast) == ["idle"])
        #expect(try matched(Self.signedIn([.after(cutoff)]), signIns: cast) == ["recent"])
        #expect(try matched(Self.signedIn([.after(cutoff), .before(Self.now)]), signIns: cast) == ["recent"])
    }

    @Test("text operators on a date compare the text Graph wrote, whether it is kept as an instant or not")
    func textOperatorsOnDates() throws {
        let cast = self.cast + [("offset", "2026-12-01T11:00:00+01:00"), ("fraction", "2026-08-01T09:30:00.5Z")]
        #expect(try matched(Self.signedIn([.startsWith(["2026-08"])]), signIns: cast) == ["idle", "fraction"])
        #expect(try matched(Self.signedIn([.endsWith(["00z"])]), signIns: cast) == ["recent", "idle", "placeholder"])
        #expect(
            try matched(Self.signedIn([.startsWith(["2026-"]), .withinLast(30 * Self.day)]), signIns: cast) == [
                "recent", "offset",
            ]
        )
        #expect(
            try matched(Self.signedIn([.exists(true), .olderThan(90 * Self.day)]), signIns: cast) == [
                "idle", "fraction",
            ]
        )
    }

    @Test("a date kept as an instant reads back as Graph wrote it; other values are kept as they were")
    func datesReadBack() throws {
        let texts = [
            "2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00", "2026-08-01T09:30:00.5Z", "0001-01-01T00:00:00Z",
            "last Tuesday", "2026-12-01t10:00:00z",
        ]
        let users = texts.enumerated().map { index, text in
            Fixture.user(
                index + 1,
                "u\(index + 1)",
                ["signInActivity": ["lastSuccessfulSignInDateTime": .string(text)]]
            )
        }
        let path = "signInActivity.lastSuccessfulSignInDateTime"
        let tenant = try Fixture.tenant(skus: [Fixture.e3()], users: users, attributes: [path])
        #expect(
            tenant.userIDs.indices.map { tenant.attribute(path, ofUser: tenant.userIndex(for: Fixture.id($0 + 1))!) }
                == texts.map { .string($0) }
        )
        // Only the first is written as Graph writes dates: the others are interned values.
        #expect(tenant.columns.values[tenant.columnIndexByPath[path]!].count == 2 + texts.count - 1)
    }

    @Test("exists: false says never signed in")
    func neverSignedIn() throws {
        #expect(try matched(Self.signedIn([.exists(false)]), signIns: cast) == ["never"])
    }

    @Test("exclude.attributes removes the users any of its conditions holds for")
    func excludeAttributes() throws {
        let inactive = AttributeCondition(
            path: "signInActivity.lastSuccessfulSignInDateTime",
            operators: [.olderThan(90 * Self.day)]
        )
        let contractors = AttributeCondition(path: "department", operators: [.startsWith(["Contract", "Temp"])])
        let everyoneBut = Policy.Match(all: true, exclude: Policy.Exclusion(attributes: [inactive, contractors]))
        let departments = ["recent": "Temporary staff", "never": "Sales"]
        #expect(
            try matched(everyoneBut, signIns: cast, departments: departments) == ["never", "garbled", "placeholder"]
        )
        // The same column tested and excluded by one policy.
        let salesButInactive = Policy.Match(
            attributes: [AttributeCondition(path: "department", operators: [.endsWith(["ales", "staff"])])],
            exclude: Policy.Exclusion(attributes: [
                AttributeCondition(path: "department", operators: [.startsWith(["temp"])])
            ])
        )
        #expect(try matched(salesButInactive, signIns: cast, departments: departments) == ["never"])
    }

    @Test("a column with thousands of distinct dates (one per user) matches as a small one does")
    func manyDistinctDates() throws {
        // 5,000 users who last signed in 1 to 5,000 hours ago, each date kept as an instant and
        // matched by its segment among the policy's boundaries.
        let users = (1...5_000).map { hours in
            Fixture.user(
                hours,
                "u\(hours)",
                [
                    "signInActivity": [
                        "lastSuccessfulSignInDateTime": .string(PolicyDates.text(Self.now - Int64(hours) * 3_600))
                    ]
                ]
            )
        }
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(prepaid: 10_000)],
            users: users,
            attributes: ["signInActivity.lastSuccessfulSignInDateTime"]
        )
        let path = "signInActivity.lastSuccessfulSignInDateTime"
        let match = Policy.Match(
            attributes: [AttributeCondition(path: path, operators: [.withinLast(150 * Self.day)])],
            exclude: Policy.Exclusion(attributes: [
                AttributeCondition(path: path, operators: [.after(Self.now - 10 * Self.day)])
            ])
        )
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("p", match: match, grants: [Fixture.grant("SPE_E3")])],
            options: PlanningOptions(now: Self.now)
        )
        // Signed in 10 days (240 hours, the exclusion is strict) to 150 days (3,600 hours) ago.
        #expect(Set(plan.changes.map(\.userId)) == Set((240...3_600).map(Fixture.id)))
    }

    @Test("explain names the deciding date and how far it lies from the evaluation time")
    func explanation() throws {
        let users = [
            Fixture.user(1, "idle", ["signInActivity": ["lastSuccessfulSignInDateTime": "2026-08-01T00:00:00Z"]])
        ]
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3()],
            users: users,
            attributes: ["signInActivity.lastSuccessfulSignInDateTime"]
        )
        let inactive = AttributeCondition(
            path: "signInActivity.lastSuccessfulSignInDateTime",
            operators: [.olderThan(90 * Self.day)]
        )
        let policy = Fixture.policy(
            "p",
            match: Policy.Match(all: true, exclude: Policy.Exclusion(attributes: [inactive])),
            grants: [Fixture.grant("SPE_E3")]
        )
        let settings = Fixture.settings(managed: ["SPE_E3"])
        let compiled = try CompiledPolicies(
            policies: [policy],
            settings: settings,
            tenant: tenant,
            evaluatedAt: Self.now
        )
        let explanation = try #require(
            Planner(tenant: tenant, policies: compiled, settings: settings).explain(user: "idle@contoso.com")
        )
        let clause = try #require(explanation.policies.first?.clauses.last)
        #expect(clause.clause == "exclude.attributes.signInActivity.lastSuccessfulSignInDateTime")
        #expect(!clause.holds)
        #expect(
            clause.detail
                == "last successful sign-in 2026-08-01, 128 days before 2026-12-07: excluded, as it satisfies olderThan 90d"
        )
    }
}
