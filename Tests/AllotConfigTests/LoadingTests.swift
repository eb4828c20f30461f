import AllotConfig
import AllotCore
import Foundation
import Testing

/// What a valid configuration and policy directory load into.
@Suite("Loading: defaults, paths, durations, values")
struct LoadingTests {
    @Test("the minimal configuration gets every documented default")
    func defaults() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        let configuration = try workspace.load().configuration
        #expect(configuration.tenant == "contoso.onmicrosoft.com")
        #expect(configuration.cloud == .global)
        #expect(configuration.effectiveGraphEndpoint == "https://graph.microsoft.com/v1.0")
        #expect(configuration.effectiveAuthority == "https://login.microsoftonline.com")
        #expect(configuration.graph == AllotConfiguration.GraphEndpoints())
        #expect(configuration.auth.clientId == "00000000-0000-0000-0000-000000000000")
        #expect(configuration.auth.credential == .clientSecretFile(nil))
        #expect(configuration.policiesPath == workspace.path("policies"))
        #expect(configuration.reconcile.interval == .seconds(900))
        #expect(configuration.reconcile.mode == .enforce)
        #expect(configuration.reconcile.managedSkus.map(\.value) == ["SPE_E3", "SPE_E5", "POWER_BI_PRO"])
        #expect(configuration.reconcile.defaultUsageLocation == nil)
        #expect(configuration.reconcile.guardrail == RemovalGuard(maxRemovals: 50, maxRemovalPercent: 5))
        #expect(configuration.reconcile.removalDelay == .zero)
        #expect(configuration.status.listen == "127.0.0.1:9464")
        #expect(configuration.logging.format == nil)
        #expect(configuration.logging.level == .info)
    }

    @Test("prices keep the digits written, take any currency, and are optional")
    func prices() throws {
        let workspace = try Workspace(
            configuration: Workspace.minimalConfiguration + """
                prices:
                  SPE_E5: { monthly: 57.10, currency: eur }
                  SPE_E3: { monthly: 36, currency: EUR }
                  POWER_BI_PRO: { monthly: 0.125, currency: USD }

                """,
            policies: ["valid.yaml": validPolicy]
        )
        let prices = try workspace.load().configuration.reconcile.prices
        #expect(prices.prices.map(\.sku.value) == ["SPE_E5", "SPE_E3", "POWER_BI_PRO"])
        #expect(prices.prices.map(\.price.monthly.description) == ["57.10", "36.00", "0.125"])
        #expect(prices.prices.map(\.price.currency) == ["EUR", "EUR", "USD"])
        #expect(prices.price(partNumber: "spe_e5", skuId: GUID(high: 0, low: 1))?.cost(of: 3).description == "171.30")
        #expect(
            try Workspace(policies: ["valid.yaml": validPolicy]).load().configuration.reconcile.prices == PriceList()
        )
        let empty = try Workspace(
            configuration: Workspace.minimalConfiguration + "prices:\n",
            policies: ["valid.yaml": validPolicy]
        )
        #expect(try empty.load().configuration.reconcile.prices == PriceList(), "an empty prices: prices nothing")
    }

    @Test("every field, as the production example writes it")
    func everyField() throws {
        let configuration = try ConfigurationLoader(environment: [:]).loadConfiguration(
            at: repositoryRoot + "/deploy/allot.yaml"
        )
        #expect(configuration.tenant == "contoso.onmicrosoft.com")
        // graph: is commented out, so the cloud's endpoints apply and no extra CA is trusted.
        #expect(configuration.graph.endpoint == nil)
        #expect(configuration.graph.authority == nil)
        #expect(configuration.effectiveGraphEndpoint == "https://graph.microsoft.com/v1.0")
        #expect(configuration.graph.caFile == nil)
        #expect(configuration.graph.writeQuota == AllotConfiguration.WriteQuota(writes: 3000, window: .seconds(150)))
        // The secret's default: $CREDENTIALS_DIRECTORY, or credentials/ beside the file by hand.
        #expect(configuration.auth.credential == .clientSecretFile(nil))
        #expect(configuration.policiesPath == repositoryRoot + "/deploy/policies")
        #expect(configuration.reconcile.mode == .report)
        #expect(configuration.reconcile.managedSkus.count == 6)
        #expect(configuration.reconcile.defaultUsageLocation == nil)
        #expect(configuration.logging.format == .json)
    }

    @Test("relative paths resolve against the configuration file's directory")
    func relativePaths() throws {
        let workspace = try Workspace(configuration: nil)
        try workspace.write(
            "etc/allot/allot.yaml",
            """
            tenant: 8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21
            graph: { caFile: ../ssl/ca.pem }
            auth:
              clientId: 00000000-0000-0000-0000-000000000000
              certificate: { certificateFile: allot.crt, privateKeyFile: ./keys/../allot.key }
            policies: ../../srv/policies
            reconcile: { managedSkus: [SPE_E3] }
            """
        )
        try workspace.write("srv/policies/valid.yml", validPolicy)
        let loaded = try ConfigurationLoader().load(configurationAt: workspace.path("etc/./allot//allot.yaml"))
        #expect(loaded.configurationPath == workspace.path("etc/allot/allot.yaml"))
        #expect(loaded.configuration.policiesPath == workspace.path("srv/policies"))
        #expect(loaded.configuration.graph.caFile == workspace.path("etc/ssl/ca.pem"))
        #expect(
            loaded.configuration.auth.credential
                == .certificate(
                    certificateFile: workspace.path("etc/allot/allot.crt"),
                    privateKeyFile: workspace.path("etc/allot/allot.key")
                )
        )
        #expect(loaded.policies.files == [workspace.path("srv/policies/valid.yml")])
    }

    @Test(
        "durations",
        arguments: [
            ("30s", 30), ("15m", 900), ("1h", 3600), ("0h", 0), ("1h30m", 5400), ("2d", 172_800), ("1d2h3m4s", 93784),
            ("90m", 5400),
        ] as [(String, Int64)]
    )
    func durations(text: String, seconds: Int64) throws {
        let workspace = try Workspace(
            configuration: Workspace.minimalConfiguration.replacingOccurrences(
                of: "reconcile:\n",
                with: "reconcile:\n  removalDelay: \(text)\n"
            ),
            policies: ["valid.yaml": validPolicy]
        )
        #expect(try workspace.load().configuration.reconcile.removalDelay == .seconds(seconds))
    }

    @Test("the other credentials")
    func credentials() throws {
        func credential(_ auth: String, environment: [String: String] = [:]) throws -> AllotConfiguration.Credential {
            let workspace = try Workspace(
                configuration:
                    "tenant: contoso.onmicrosoft.com\nauth:\n\(auth)\nreconcile: { managedSkus: [SPE_E3] }\n",
                policies: ["valid.yaml": validPolicy]
            )
            return try workspace.load(environment: environment).configuration.auth.credential
        }
        let clientId = "  clientId: 00000000-0000-0000-0000-000000000000\n"
        #expect(try credential(clientId + "  clientSecretFile:") == .clientSecretFile(nil))
        #expect(
            try credential(clientId + "  federatedTokenFile: /var/run/token") == .federatedTokenFile("/var/run/token")
        )
        #expect(
            try credential(
                clientId + "  federatedTokenFile:",
                environment: ["AZURE_FEDERATED_TOKEN_FILE": "/aks/token"]
            ) == .federatedTokenFile("/aks/token")
        )
        #expect(
            try credential(clientId, environment: ["AZURE_FEDERATED_TOKEN_FILE": "/aks/token"])
                == .federatedTokenFile("/aks/token")
        )
        #expect(try credential("  managedIdentity:") == .managedIdentity(clientId: nil))
        #expect(
            try credential("  managedIdentity: { clientId: 11111111-1111-1111-1111-111111111111 }")
                == .managedIdentity(clientId: "11111111-1111-1111-1111-111111111111")
        )
    }

    @Test("policies: every clause and operator, in the core's types")
    func policyValues() throws {
        let workspace = try Workspace(policies: [
            "all.yaml": #"""
            name: everything
            description: every operator once
            priority: -5
            match:
              groups: [Engineering, 6f0b8c1e-8d4b-4b6e-9c1a-2f3e4d5c6b7a]
              attributes:
                accountEnabled: true
                department: [Engineering, R&D]
                country: { notIn: [CN, RU], in: [NO, "US", 1.5] }
                jobTitle: { startsWith: Senior, endsWith: Engineer, matches: "\\bstaff\\b" }
                employeeId: 007
                onPremisesExtensionAttributes.extensionAttribute1: { exists: false }
              exclude:
                groups: [License Exempt]
                users: [breakglass@contoso.com]
            licenses:
              - sku: SPE_E5
                enabledPlans: [EXCHANGE_S_ENTERPRISE, TEAMS1]
                replaces: [SPE_E3]
              - sku: POWER_BI_PRO
                disabledPlans: []
            """#
        ])
        let policy = try #require(try workspace.load().policies.policies.first)
        #expect(policy.name == "everything")
        #expect(policy.description == "every operator once")
        #expect(policy.priority == -5)
        #expect(policy.location?.line == 1)
        #expect(policy.match.all == false)
        #expect(policy.match.groups?.map(\.value) == ["Engineering", "6f0b8c1e-8d4b-4b6e-9c1a-2f3e4d5c6b7a"])
        #expect(policy.match.location?.line == 4)
        #expect(
            policy.match.attributes.map(\.path) == [
                "accountEnabled", "department", "country", "jobTitle", "employeeId",
                "onPremisesExtensionAttributes.extensionAttribute1",
            ]
        )
        #expect(
            policy.match.attributes.map(\.operators) == [
                [.equals(.bool(true))],
                [.anyOf([.string("Engineering"), .string("R&D")])],
                [.noneOf([.string("CN"), .string("RU")]), .anyOf([.string("NO"), .string("US"), .number(1.5)])],
                [.startsWith(["Senior"]), .endsWith(["Engineer"]), .matches(#"\bstaff\b"#)],
                [.equals(.string("007"))],
                [.exists(false)],
            ]
        )
        #expect(policy.match.attributes[2].location?.line == 9)
        #expect(policy.match.exclude.groups.map(\.value) == ["License Exempt"])
        #expect(policy.match.exclude.users.map(\.value) == ["breakglass@contoso.com"])
        #expect(policy.licenses.map(\.sku.value) == ["SPE_E5", "POWER_BI_PRO"])
        #expect(policy.licenses[0].plans == .enabled([Reference("EXCHANGE_S_ENTERPRISE"), Reference("TEAMS1")]))
        #expect(policy.licenses[0].replaces == [Reference("SPE_E3")])
        #expect(
            policy.licenses[0].sku.location
                == SourceLocation(file: workspace.path("policies/all.yaml"), line: 17, column: 10)
        )
        #expect(policy.licenses[1].plans == .disabled([]))
    }

    @Test("policies: date operators, lists for startsWith and endsWith, exclude.attributes")
    func lifecycleValues() throws {
        let workspace = try Workspace(policies: [
            "lifecycle.yaml": """
            name: lifecycle
            match:
              attributes:
                employeeHireDate: { before: 2027-01-01, after: "2026-12-01T09:00:00+01:00" }
                jobTitle: { startsWith: [Senior, Staff], endsWith: [Engineer] }
              exclude:
                attributes:
                  signInActivity.lastSuccessfulSignInDateTime: { olderThan: 90d }
                  createdDateTime: { withinLast: 1d12h }
            licenses: [{ sku: SPE_E3 }]
            """
        ])
        let policy = try #require(try workspace.load().policies.policies.first)
        #expect(
            policy.match.attributes.map(\.operators) == [
                [.before(PolicyDates.instant("2027-01-01")!), .after(PolicyDates.instant("2026-12-01T08:00:00Z")!)],
                [.startsWith(["Senior", "Staff"]), .endsWith(["Engineer"])],
            ]
        )
        #expect(
            policy.match.exclude.attributes.map(\.path) == [
                "signInActivity.lastSuccessfulSignInDateTime", "createdDateTime",
            ]
        )
        let ninetyDays: Int64 = 90 * 86_400
        let dayAndAHalf: Int64 = 36 * 3_600
        let expected: [[AttributeOperator]] = [[.olderThan(ninetyDays)], [.withinLast(dayAndAHalf)]]
        #expect(policy.match.exclude.attributes.map(\.operators) == expected)
        #expect(policy.match.exclude.attributes[0].location?.line == 8)
        #expect(
            PolicyRequirements([policy]).attributes == [
                "createdDateTime", "employeeHireDate", "jobTitle", "signInActivity.lastSuccessfulSignInDateTime",
            ]
        )
    }

    @Test("files: *.yaml and *.yml in name order, several documents each, hidden and other files left out")
    func policyFiles() throws {
        let workspace = try Workspace(policies: [
            "b.yml":
                "---\nname: b1\nmatch: { all: true }\nlicenses: [{ sku: SPE_E3 }]\n---\nname: b2\nmatch: { all: true }\nlicenses: [{ sku: SPE_E5 }]\n...\n",
            "a.yaml": "# leading comment\nname: a\nmatch: { groups: [] }\nlicenses: [{ sku: SPE_E3 }]\n---\n",
            ".draft.yaml": "name: broken: [\n",
            "notes.txt": "not YAML at all: [\n",
            "nested/c.yaml": "name: nested\n",
        ])
        let set = try workspace.load().policies
        #expect(set.files == [workspace.path("policies/a.yaml"), workspace.path("policies/b.yml")])
        #expect(set.policies.map(\.name) == ["a", "b1", "b2"])
        #expect(set.policies.map { $0.location?.line } == [2, 2, 6])
    }

    @Test("the revision is a SHA-256 that changes exactly when the files do")
    func revision() throws {
        let workspace = try Workspace(policies: ["a.yaml": validPolicy])
        let first = try workspace.load().policies.revision
        #expect(first.count == 64 && first.allSatisfy(\.isHexDigit))
        #expect(try workspace.load().policies.revision == first)
        try workspace.write("policies/a.yaml", validPolicy + "description: edited\n")
        let edited = try workspace.load().policies.revision
        #expect(edited != first)
        try FileManager.default.moveItem(
            atPath: workspace.path("policies/a.yaml"),
            toPath: workspace.path("policies/b.yaml")
        )
        #expect(try workspace.load().policies.revision != edited)
    }

    @Test("loadPolicies alone, against given settings")
    func loadPoliciesAlone() throws {
        let workspace = try Workspace(configuration: nil, policies: ["a.yaml": validPolicy])
        let loader = ConfigurationLoader(environment: [:])
        #expect(
            try loader.loadPolicies(
                in: workspace.path("policies"),
                reconcile: ReconcileSettings(managedSkus: [Reference("spe_e3")])
            ).policies.count == 1
        )
        #expect(throws: DiagnosticsError.self) {
            try loader.loadPolicies(
                in: workspace.path("policies"),
                reconcile: ReconcileSettings(managedSkus: [Reference("SPE_E5")])
            )
        }
    }

    @Test("the default configuration path: ./allot.yaml when present")
    func defaultConfigurationPath() throws {
        let workspace = try Workspace()
        #expect(
            ConfigurationLoader.defaultConfigurationPath(currentDirectory: workspace.directory)
                == workspace.path("allot.yaml")
        )
        #expect(
            ConfigurationLoader.defaultConfigurationPath(currentDirectory: workspace.path("policies"))
                == "/etc/allot/allot.yaml"
        )
    }

    @Test("YAML 1.2 values: no Norway problem, quoted stays text, numbers stay as written")
    func yamlValues() throws {
        let workspace = try Workspace(policies: [
            "a.yaml": """
            name: "true"
            priority: 0x10
            match:
              attributes:
                country: [NO, no, off, yes, ~x]
                accountEnabled: "false"
                officeLocation: 1.50
            licenses: [{ sku: SPE_E3 }]
            """
        ])
        let policy = try #require(try workspace.load().policies.policies.first)
        #expect(policy.name == "true")
        #expect(policy.priority == 16)
        #expect(
            policy.match.attributes.map(\.operators) == [
                [.anyOf(["NO", "no", "off", "yes", "~x"].map(ScalarValue.string))],
                [.equals(.string("false"))],
                [.equals(.string("1.50"))],
            ]
        )
    }
}
