import AllotConfig
import AllotCore
import Testing

/// One test per problem a policy file can have: the exact message, file, line and column.
@Suite("Policy files: every problem, where it is")
struct PolicyErrorTests {
    @Test("a YAML syntax error points at the line libyaml stopped at")
    func syntaxError() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true
            licenses:
              - sku: SPE_E3
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:3:9: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping at line 2, column 8)"
            ]
        )
    }

    @Test("a name must be one line of text, and keys plain names")
    func nameAndKeyShapes() throws {
        #expect(
            try policyProblems(
                """
                name: "two\\nlines"
                match: { all: true }
                licenses: [{ sku: SPE_E3 }]
                """
            ) == ["policies/test.yaml:1:7: `name` must be one line"]
        )
        #expect(
            try policyProblems(
                """
                name: "  "
                match: { all: true }
                licenses: [{ sku: SPE_E3 }]
                """
            ) == ["policies/test.yaml:1:7: `name` must not be empty"]
        )
        #expect(
            try policyProblems(
                """
                name: a
                ? [x, y]
                : 1
                match: { all: true }
                licenses: [{ sku: SPE_E3 }]
                """
            ) == ["policies/test.yaml:2:3: keys must be plain names, got a list"]
        )
    }

    @Test("an unknown key gets a did-you-mean hint")
    func unknownKey() throws {
        let problems = try policyProblems(
            """
            name: a
            prioirty: 5
            match: { all: true }
            licenses:
              - sku: SPE_E3
            """
        )
        #expect(problems == ["policies/test.yaml:2:1: unknown key `prioirty`; did you mean `priority`?"])
    }

    @Test("an unknown key with no close match lists the valid keys")
    func unknownKeyWithoutSuggestion() throws {
        let problems = try policyProblems(
            """
            name: a
            owner: identity-team
            match: { all: true }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:2:1: unknown key `owner`; expected one of: name, description, priority, match, licenses"
            ]
        )
    }

    @Test("a key written at the wrong level says where it belongs")
    func misplacedKey() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            exclude: { users: [breakglass@contoso.com] }
            licenses:
              - sku: SPE_E3
                disabledPlans: [YAMMER_ENTERPRISE]
                replace: [SPE_E5]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:3:1: unknown key `exclude`: `exclude` belongs under `match`",
                "policies/test.yaml:7:5: unknown key `replace` in `licenses[0]`; did you mean `replaces`?",
            ]
        )
    }

    @Test("a wrong type names the key, the type wanted and the value found")
    func wrongType() throws {
        let problems = try policyProblems(
            """
            name: a
            priority: high
            match: { all: true }
            licenses:
              - sku: SPE_E3
            """
        )
        #expect(problems == [#"policies/test.yaml:2:11: `priority` must be an integer, got string "high""#])
    }

    @Test("wrong types deeper down name the full path")
    func wrongNestedTypes() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              groups: Engineering
              exclude: { users: [42] }
            licenses:
              - sku: SPE_E3
                disabledPlans: YAMMER_ENTERPRISE
            """
        )
        #expect(
            problems == [
                #"policies/test.yaml:3:11: `match.groups` must be a list of group names or ids, got string "Engineering""#,
                "policies/test.yaml:4:22: `match.exclude.users[0]` must be a string, got integer 42",
                #"policies/test.yaml:7:20: `licenses[0].disabledPlans` must be a list of service plan names or ids, got string "YAMMER_ENTERPRISE""#,
            ]
        )
    }

    @Test("a duplicate key is reported where it is repeated, and reading goes on")
    func duplicateKey() throws {
        let problems = try policyProblems(
            """
            name: a
            priority: 1
            priority: 2
            match: { all: true }
            licenses:
              - sku: SPE_E3
              - sku: EMS
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:3:1: duplicate key `priority` (first at line 2, column 1)",
                "policies/test.yaml:7:10: SKU `EMS` is not in `reconcile.managedSkus` (SPE_E3, SPE_E5, POWER_BI_PRO): add it there for Allot to assign it, or grant a managed SKU",
            ]
        )
    }

    @Test("a policy name used in two files is reported at both")
    func duplicateNames() throws {
        let workspace = try Workspace(policies: [
            "a.yaml": "name: everyone\nmatch: { all: true }\nlicenses: [{ sku: SPE_E3 }]\n",
            "b.yaml":
                "# the same name, in another case\nname: Everyone\nmatch: { all: true }\nlicenses: [{ sku: SPE_E5 }]\n",
        ])
        #expect(
            workspace.problems() == [
                "policies/a.yaml:1:1: policy name `everyone` is used more than once (also at policies/b.yaml:2:1): names must be unique",
                "policies/b.yaml:2:1: policy name `Everyone` is used more than once (also at policies/a.yaml:1:1): names must be unique",
            ]
        )
    }

    @Test("thousands of policies with one name and one long replaces cycle: one line each, in linear time")
    func manyPolicies() throws {
        let count = 3000
        let yaml = (0..<count).map {
            "name: p\nmatch: { all: true }\nlicenses: [{ sku: S\($0), replaces: [S\(($0 + 1) % count)] }]\n"
        }
        .joined(separator: "---\n")
        let managed = (0..<count).map { Reference("S\($0)") }
        let error = try #require(throws: DiagnosticsError.self) {
            try ConfigurationLoader(environment: [:]).decodePolicies(
                Array(yaml.utf8),
                file: "/p.yaml",
                managedSkus: managed
            )
        }
        let messages = error.diagnostics.map(\.message)
        #expect(messages.count == 2 * count)
        #expect(
            messages.first
                == "policy name `p` is used more than once (also at /p.yaml:5:1 and 2998 more): names must be unique"
        )
        #expect(messages.filter { $0.hasPrefix("`replaces` cycle among 3000 SKUs") }.count == count)
    }

    @Test("a SKU granted or replaced must be managed")
    func unmanagedSku() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            licenses:
              - sku: EMS
                replaces: [FLOW_FREE]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:4:10: SKU `EMS` is not in `reconcile.managedSkus` (SPE_E3, SPE_E5, POWER_BI_PRO): add it there for Allot to assign it, or grant a managed SKU",
                "policies/test.yaml:5:16: `replaces` names SKU `FLOW_FREE`, which is not in `reconcile.managedSkus` (SPE_E3, SPE_E5, POWER_BI_PRO): Allot never removes an unmanaged SKU",
            ]
        )
    }

    @Test("managed SKUs compare ignoring case; a GUID against names is left to the tenant")
    func managedSkuComparison() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            licenses:
              - sku: spe_e5
                replaces: [Spe_E3]
              - sku: f8a1db68-be16-40ed-86d5-cb42ce701560
            """
        )
        #expect(problems == [])
    }

    @Test("with GUIDs on both sides, an unlisted GUID is an error")
    func unmanagedGuid() throws {
        let workspace = try Workspace(
            configuration: """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { managedSkus: [06ebc4ee-1bb5-47dd-8120-11324bc54e06] }
                """,
            policies: [
                "test.yaml":
                    "name: a\nmatch: { all: true }\nlicenses:\n  - sku: 06EBC4EE-1BB5-47DD-8120-11324BC54E06\n  - sku: 05e9a617-0261-4cee-bb44-138d3ef5d965\n"
            ]
        )
        #expect(
            workspace.problems() == [
                "policies/test.yaml:5:10: SKU `05e9a617-0261-4cee-bb44-138d3ef5d965` is not in `reconcile.managedSkus` (06ebc4ee-1bb5-47dd-8120-11324bc54e06): add it there for Allot to assign it, or grant a managed SKU"
            ]
        )
    }

    @Test("disabledPlans and enabledPlans exclude each other")
    func disabledAndEnabledPlans() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            licenses:
              - sku: SPE_E3
                disabledPlans: [YAMMER_ENTERPRISE]
                enabledPlans: [TEAMS1]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:6:5: `disabledPlans` and `enabledPlans` exclude each other: keep `disabledPlans` (a deny-list: plans Microsoft adds come on) or `enabledPlans` (an allow-list: plans Microsoft adds stay off)"
            ]
        )
    }

    @Test("a replaces cycle through two policies is reported at both ends")
    func replacesCycle() throws {
        let workspace = try Workspace(policies: [
            "e5.yaml":
                "name: e5\nmatch: { groups: [Engineering] }\nlicenses:\n  - sku: SPE_E5\n    replaces: [SPE_E3]\n",
            "e3.yaml": "name: e3\nmatch: { all: true }\nlicenses:\n  - sku: SPE_E3\n    replaces: [SPE_E5]\n",
        ])
        #expect(
            workspace.problems() == [
                "policies/e3.yaml:5:16: `replaces` cycle: `SPE_E3` replaces `SPE_E5` replaces `SPE_E3`: whoever matches these policies would lose every one of them",
                "policies/e5.yaml:5:16: `replaces` cycle: `SPE_E5` replaces `SPE_E3` replaces `SPE_E5`: whoever matches these policies would lose every one of them",
            ]
        )
    }

    @Test("a SKU that replaces itself")
    func selfReplacement() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            licenses:
              - sku: SPE_E5
                replaces: [SPE_E3, spe_e5]
            """
        )
        #expect(problems == ["policies/test.yaml:5:24: SKU `SPE_E5` replaces itself"])
    }

    @Test("an invalid regular expression, checked as the planner compiles it")
    func invalidRegex() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                jobTitle: { matches: "(analyst" }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:4:5: `match.attributes.jobTitle.matches`: invalid regular expression /(analyst/ (ICU syntax, as in .NET and PCRE: escape special characters with a backslash)"
            ]
        )
    }

    @Test("a valid pattern passes")
    func validRegex() throws {
        let problems = try policyProblems(
            #"""
            name: a
            match:
              attributes:
                jobTitle: { matches: "\\b(senior|principal)\\s+engineer$" }
            licenses: [{ sku: SPE_E3 }]
            """#
        )
        #expect(problems == [])
    }

    @Test("an empty match must say all: true", arguments: ["match: {}", "match:", "match: { all: false }"])
    func emptyMatch(match: String) throws {
        let problems = try policyProblems("name: a\n\(match)\nlicenses: [{ sku: SPE_E3 }]\n")
        #expect(
            problems == [
                "policies/test.yaml:2:1: `match` of policy `a` has no clause: give `groups` or `attributes`, or write `match: { all: true }` to match everyone"
            ]
        )
    }

    @Test("all: true cannot be combined with other clauses")
    func allWithOtherClauses() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              all: true
              groups: [Engineering]
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:2:1: `match.all: true` already matches everyone: remove it, or remove `groups` and `attributes`"
            ]
        )
    }

    @Test("the same SKU twice in one policy")
    func duplicateSku() throws {
        let problems = try policyProblems(
            """
            name: a
            match: { all: true }
            licenses:
              - sku: SPE_E3
              - sku: spe_e3
                disabledPlans: [YAMMER_ENTERPRISE]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:5:10: SKU `spe_e3` is granted twice by policy `a` (first at line 4): merge the two entries"
            ]
        )
    }

    @Test("an unknown attribute operator")
    func unknownOperator() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                jobTitle: { startWith: Senior }
                onPremisesExtensionAttributes: { extensionAttribute1: E5 }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:4:17: unknown key `startWith` in `match.attributes.jobTitle`; did you mean `startsWith`?",
                "policies/test.yaml:5:38: unknown key `extensionAttribute1` in `match.attributes.onPremisesExtensionAttributes`: operators are in, notIn, startsWith, endsWith, matches, exists, before, after, olderThan, withinLast; for a property of a nested object write one dotted name, such as `onPremisesExtensionAttributes.extensionAttribute1`",
            ]
        )
    }

    @Test("date operators: a bad date, a bad duration, a date operator on a non-date attribute")
    func dateOperators() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                employeeHireDate: { before: next monday }
                createdDateTime: { after: "2026-12-07T09:00" }
                signInActivity.lastSuccessfulSignInDateTime: { olderThan: 90 days }
              exclude:
                attributes:
                  employeeLeaveDateTime: { withinLast: 30 }
                  department: { olderThan: 90d }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                #"policies/test.yaml:4:33: `match.attributes.employeeHireDate.before` must be a date (2026-12-01) or a date-time with its zone (2026-12-01T09:00:00Z), got string "next monday""#,
                #"policies/test.yaml:5:31: `match.attributes.createdDateTime.after` must be a date (2026-12-01) or a date-time with its zone (2026-12-01T09:00:00Z), got string "2026-12-07T09:00""#,
                #"policies/test.yaml:6:63: `match.attributes.signInActivity.lastSuccessfulSignInDateTime.olderThan` must be a duration such as 30s, 15m, 1h, 1h30m or 2d, got string "90 days""#,
                "policies/test.yaml:9:44: `match.exclude.attributes.employeeLeaveDateTime.withinLast` must be a duration such as 30s, 15m, 1h, 1h30m or 2d, got integer 30",
                "policies/test.yaml:10:21: `olderThan` compares dates, and `department` is not a date attribute: the date attributes are createdDateTime, employeeHireDate, employeeLeaveDateTime, signInActivity.lastSignInDateTime, signInActivity.lastNonInteractiveSignInDateTime, signInActivity.lastSuccessfulSignInDateTime",
            ]
        )
    }

    @Test("startsWith and endsWith take a text or a non-empty list of texts")
    func prefixLists() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                jobTitle: { startsWith: [] }
                department: { endsWith: [Sales, 7] }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:4:29: `match.attributes.jobTitle.startsWith` must list at least one text",
                "policies/test.yaml:5:37: `match.attributes.department.endsWith[1]` must be a string, got integer 7",
            ]
        )
    }

    @Test("exists takes true or false")
    func existsNotBool() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                mail: { exists: yes }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                #"policies/test.yaml:4:21: `match.attributes.mail.exists` must be true or false, got string "yes""#
            ]
        )
    }

    @Test("attribute conditions: missing values, bad names, nested lists, empty operators")
    func attributeShapes() throws {
        let problems = try policyProblems(
            """
            name: a
            match:
              attributes:
                department:
                job title: Engineer
                country: [US, [GB]]
                city: {}
                jobTitle: { in: Engineer }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:4:16: `match.attributes.department` has no value: to match users without it write `{ exists: false }`",
                "policies/test.yaml:5:5: `job title` is not a user property name: use letters and digits, with dots for nested objects (onPremisesExtensionAttributes.extensionAttribute1)",
                "policies/test.yaml:6:19: `match.attributes.country[1]` must be a value (text, a number, true or false), got a list",
                "policies/test.yaml:7:11: `match.attributes.city` has no operator: use a value, a list, or one of in, notIn, startsWith, endsWith, matches, exists, before, after, olderThan, withinLast",
                #"policies/test.yaml:8:21: `match.attributes.jobTitle.in` must be a list of values, got string "Engineer""#,
            ]
        )
    }

    @Test("required keys")
    func requiredKeys() throws {
        let problems = try policyProblems("description: nothing else\n")
        #expect(
            problems == [
                "policies/test.yaml:1:1: `licenses` is required: the SKUs the policy grants, such as `- sku: SPE_E5`",
                "policies/test.yaml:1:1: `match` is required: who the policy applies to (`groups`, `attributes`, or `all: true`)",
                "policies/test.yaml:1:1: `name` is required: a name unique across all policy files",
            ]
        )
    }

    @Test("licenses: an empty list and an entry without sku")
    func licenseShapes() throws {
        let workspace = try Workspace(policies: [
            "test.yaml":
                "name: a\nmatch: { all: true }\nlicenses: []\n---\nname: b\nmatch: { all: true }\nlicenses:\n  - disabledPlans: [TEAMS1]\n"
        ])
        #expect(
            workspace.problems() == [
                "policies/test.yaml:3:11: `licenses` must list at least one SKU to grant",
                "policies/test.yaml:8:5: `licenses[0].sku` is required: the SKU's skuPartNumber (SPE_E5) or skuId",
            ]
        )
    }

    @Test("a document that is not a mapping")
    func documentNotMapping() throws {
        let problems = try policyProblems("- name: a\n")
        #expect(
            problems == [
                "policies/test.yaml:1:1: a policy must be a mapping with `name`, `match` and `licenses`, got a list"
            ]
        )
    }

    @Test("YAML features Allot refuses: tags, merge keys, undefined aliases")
    func refusedYAMLFeatures() throws {
        let problems = try policyProblems(
            """
            name: !!binary YQ==
            <<: { priority: 5 }
            match: { groups: [*engineering] }
            licenses: [{ sku: SPE_E3 }]
            """
        )
        #expect(
            problems == [
                "policies/test.yaml:1:7: unsupported YAML tag `!!binary`: Allot reads plain YAML values; remove the tag",
                "policies/test.yaml:2:1: merge keys (`<<`) are not supported: write the keys out",
                "policies/test.yaml:3:19: alias `*engineering` refers to no anchor `&engineering` defined before it",
            ]
        )
    }

    @Test("every problem of every file at once")
    func allAtOnce() throws {
        let workspace = try Workspace(
            configuration: """
                tenant: contoso.onmicrosoft.com
                cloud: azure
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile:
                  interval: 15
                  managedSkus: [SPE_E3, SPE_E5]
                """,
            policies: [
                "a.yaml":
                    "name: a\npriority: high\nmatch: {}\nlicenses: [{ sku: EMS }]\n---\nname: b\nmatch: { all: true }\nlicenses: [{ sku: SPE_E3, replaces: [SPE_E3] }]\n",
                "b.yaml":
                    "name: b\nmatch: { groups: [PMO] }\nlicenses: [{ sku: SPE_E5, enabledPlans: [A], disabledPlans: [B] }]\n",
                "c.yaml": "name: c\n  bad: indentation\n",
            ]
        )
        #expect(
            workspace.problems() == [
                "allot.yaml:2:8: unknown cloud `azure`: valid values are global, usgov, usgovdod, china",
                "allot.yaml:5:13: `reconcile.interval` must be a duration such as 30s, 15m, 1h, 1h30m or 2d, got integer 15",
                #"policies/a.yaml:2:11: `priority` must be an integer, got string "high""#,
                "policies/a.yaml:3:1: `match` of policy `a` has no clause: give `groups` or `attributes`, or write `match: { all: true }` to match everyone",
                "policies/a.yaml:4:19: SKU `EMS` is not in `reconcile.managedSkus` (SPE_E3, SPE_E5): add it there for Allot to assign it, or grant a managed SKU",
                "policies/a.yaml:6:1: policy name `b` is used more than once (also at policies/b.yaml:1:1): names must be unique",
                "policies/a.yaml:8:38: SKU `SPE_E3` replaces itself",
                "policies/b.yaml:1:1: policy name `b` is used more than once (also at policies/a.yaml:6:1): names must be unique",
                "policies/b.yaml:3:46: `disabledPlans` and `enabledPlans` exclude each other: keep `disabledPlans` (a deny-list: plans Microsoft adds come on) or `enabledPlans` (an allow-list: plans Microsoft adds stay off)",
                "policies/c.yaml:2:6: invalid YAML: mapping values are not allowed in this context",
            ]
        )
    }
}

extension PolicyErrorTests {
    @Test("yes/no/on/off/y/n compared with a boolean attribute is an error with the fix; elsewhere it is text")
    func yaml11BooleansOnBooleanAttributes() throws {
        #expect(
            try policyProblems(
                """
                name: a
                match:
                  attributes:
                    accountEnabled: yes
                    showInAddressList: [Off, "N"]
                    onPremisesSyncEnabled: { notIn: [NO] }
                licenses: [{ sku: SPE_E3 }]
                """
            ) == [
                "policies/test.yaml:4:21: `match.attributes.accountEnabled` is a boolean attribute and `yes` is text (YAML 1.2), so it never equals it: write `true`",
                "policies/test.yaml:5:25: `match.attributes.showInAddressList` is a boolean attribute and `Off` is text (YAML 1.2), so it never equals it: write `false`",
                "policies/test.yaml:5:30: `match.attributes.showInAddressList` is a boolean attribute and `N` is text (YAML 1.2), so it never equals it: write `false`",
                "policies/test.yaml:6:38: `match.attributes.onPremisesSyncEnabled.notIn` is a boolean attribute and `NO` is text (YAML 1.2), so it never equals it: write `false`",
            ]
        )
        // Not a boolean attribute: Norway's country code stays text.
        #expect(
            try policyProblems(
                """
                name: a
                match: { attributes: { country: NO, accountEnabled: true } }
                licenses: [{ sku: SPE_E3 }]
                """
            ) == []
        )
    }
}
