import AllotConfig
import AllotCore
import Testing

/// One test per problem `allot.yaml` can have: the exact message, file, line and column.
@Suite("allot.yaml: every problem, where it is")
struct ConfigurationErrorTests {
    /// The minimal configuration with `lines` appended under `reconcile:` (indented there).
    private func reconcileProblems(_ lines: String) throws -> [String] {
        try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile:
              managedSkus: [SPE_E3]
              \(lines)
            """
        )
    }

    @Test("a client secret written into the file is refused, and never echoed")
    func clientSecret() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth:
              clientId: 00000000-0000-0000-0000-000000000000
              clientSecret: Zk8Q~not-a-real-secret
            reconcile: { managedSkus: [SPE_E3] }
            """
        )
        #expect(
            problems == [
                "allot.yaml:4:3: unknown key `clientSecret` in `auth`: secrets never go into allot.yaml: put the secret in a file (systemd `LoadCredential=`) and set `auth.clientSecretFile` to it"
            ]
        )
        #expect(!problems.joined().contains("Zk8Q"))
    }

    @Test("more than one credential")
    func moreThanOneAuthMode() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth:
              clientId: 00000000-0000-0000-0000-000000000000
              federatedTokenFile: /var/run/secrets/token
              clientSecretFile: /run/credentials/allot.service/client-secret
            reconcile: { managedSkus: [SPE_E3] }
            """
        )
        #expect(
            problems == [
                "allot.yaml:5:3: `auth` gives more than one credential (federatedTokenFile, clientSecretFile): keep exactly one"
            ]
        )
    }

    @Test("credential details: certificate files, managed identity id, client id")
    func credentialDetails() throws {
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth:
                  clientId: allot-app
                  certificate: { certificateFile: allot.crt }
                reconcile: { managedSkus: [SPE_E3] }
                """
            ) == [
                #"allot.yaml:3:13: `auth.clientId` must be a GUID such as 00000000-0000-0000-0000-000000000000, got string "allot-app""#,
                "allot.yaml:4:3: `auth.certificate.privateKeyFile` is required",
            ]
        )
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth:
                  federatedTokenFile:
                reconcile: { managedSkus: [SPE_E3] }
                """
            ) == [
                "allot.yaml:2:1: `auth.clientId` is required: the application (client) id of the app registration",
                "allot.yaml:3:22: `auth.federatedTokenFile` has no value and AZURE_FEDERATED_TOKEN_FILE is not set: give the token file's path",
            ]
        )
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth:
                  managedIdentity: { clientId: user-assigned }
                reconcile: { managedSkus: [SPE_E3] }
                """
            ) == [
                #"allot.yaml:3:32: `auth.managedIdentity.clientId` must be a GUID such as 00000000-0000-0000-0000-000000000000, got string "user-assigned""#
            ]
        )
    }

    @Test(
        "bad durations",
        arguments: [
            ("15", "integer 15"), ("\"15\"", #"string "15""#), ("15 m", #"string "15 m""#), ("1.5h", #"string "1.5h""#),
            ("m", #"string "m""#), ("1m1h", #"string "1m1h""#), ("-1h", #"string "-1h""#),
            ("15min", #"string "15min""#),
            ("1h1h", #"string "1h1h""#), ("99999999999999999999s", #"string "99999999999999999999s""#),
        ]
    )
    func badDuration(text: String, shown: String) throws {
        let problems = try reconcileProblems("removalDelay: \(text)")
        #expect(
            problems == [
                "allot.yaml:5:17: `reconcile.removalDelay` must be a duration such as 30s, 15m, 1h, 1h30m or 2d, got \(shown)"
            ]
        )
    }

    @Test("an interval of zero")
    func zeroInterval() throws {
        #expect(
            try reconcileProblems("interval: 0s") == ["allot.yaml:5:13: `reconcile.interval` must be longer than zero"]
        )
    }

    @Test("percentages outside 0-100", arguments: ["maxRemovalPercent", "groupShrinkPercent"], ["101", "-1", "5%"])
    func badPercentage(key: String, text: String) throws {
        let problems = try reconcileProblems("guard: { \(key): \(text) }")
        let shown =
            text == "5%"
            ? #"must be a number, got string "5%""# : "must be a percentage from 0 to 100, got integer \(text)"
        let column = 14 + key.count
        #expect(problems == ["allot.yaml:5:\(column): `reconcile.guard.\(key)` \(shown)"])
    }

    @Test("groupShrinkPercent: 50 by default; 0 and 100 are valid")
    func groupShrinkPercent() throws {
        #expect(RemovalGuard().groupShrinkPercent == 50)
        #expect(try reconcileProblems("guard: { groupShrinkPercent: 0 }").isEmpty)
        #expect(try reconcileProblems("guard: { groupShrinkPercent: 100 }").isEmpty)
    }

    @Test("negative maxRemovals")
    func negativeMaxRemovals() throws {
        #expect(
            try reconcileProblems("guard: { maxRemovals: -1 }") == [
                "allot.yaml:5:25: `reconcile.guard.maxRemovals` must not be negative, got -1"
            ]
        )
    }

    @Test(
        "status.listen must be host:port",
        arguments: ["9464", "localhost", "127.0.0.1:99999", ":9464", "::1:9464", "127.0.0.1:"]
    )
    func badListen(text: String) throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile: { managedSkus: [SPE_E3] }
            status: { listen: "\(text)" }
            """
        )
        #expect(
            problems == [
                #"allot.yaml:4:19: `status.listen` must be host:port such as 127.0.0.1:9464 or [::1]:9464, got string "\#(text)""#
            ]
        )
    }

    @Test("valid listen addresses", arguments: ["127.0.0.1:9464", "[::1]:9464", "localhost:0", "0.0.0.0:65535"])
    func goodListen(text: String) throws {
        let workspace = try Workspace(
            configuration: Workspace.minimalConfiguration + "status: { listen: \"\(text)\" }\n",
            policies: ["valid.yaml": validPolicy]
        )
        #expect(try workspace.load().configuration.status.listen == text)
    }

    @Test("unknown enumeration values list the valid ones")
    func unknownChoices() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            cloud: usgovv
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile: { managedSkus: [SPE_E3], mode: dry-run }
            logging: { format: yaml, level: verbose }
            """
        )
        #expect(
            problems == [
                "allot.yaml:2:8: unknown cloud `usgovv`: did you mean `usgov`? valid values are global, usgov, usgovdod, china",
                "allot.yaml:4:43: unknown mode `dry-run` (`reconcile.mode`): valid values are enforce, report",
                "allot.yaml:5:20: unknown format `yaml` (`logging.format`): valid values are json, logfmt, text",
                "allot.yaml:5:33: unknown level `verbose` (`logging.level`): valid values are trace, debug, info, notice, warning, error, critical",
            ]
        )
    }

    @Test("required settings")
    func requiredSettings() throws {
        #expect(
            try configurationProblems("cloud: global\n") == [
                "allot.yaml:1:1: `auth` is required: at least `auth.clientId`, the application (client) id of the app registration",
                "allot.yaml:1:1: `reconcile` is required: at least `reconcile.managedSkus`, the SKUs Allot owns",
                "allot.yaml:1:1: `tenant` is required: the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com",
            ]
        )
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { interval: 5m }
                """
            ) == [
                "allot.yaml:3:1: `reconcile.managedSkus` is required: list the SKUs Allot owns, such as [SPE_E3, SPE_E5]; no other SKU is ever touched"
            ]
        )
    }

    @Test("managed SKUs: empty, repeated, more than 64")
    func managedSkuList() throws {
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { managedSkus: [] }
                """
            ) == [
                "allot.yaml:3:27: `reconcile.managedSkus` must list at least one SKU: Allot changes only the SKUs listed here"
            ]
        )
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { managedSkus: [SPE_E3, spe_e3] }
                """
            ) == ["allot.yaml:3:36: SKU `spe_e3` is listed twice in `reconcile.managedSkus`"]
        )
        let sixtyFive = (["SPE_E3"] + (1...64).map { "SKU_\($0)" }).joined(separator: ", ")
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { managedSkus: [\(sixtyFive)] }
                """
            ) == [
                "allot.yaml:3:27: `reconcile.managedSkus` lists 65 SKUs: Allot manages at most 64; list only the SKUs policies assign"
            ]
        )
    }

    @Test("tenant, endpoints and usage location values")
    func valueFormats() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso
            graph:
              endpoint: graph.microsoft.com
              writeQuota: { writes: 0, window: 0s }
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile:
              managedSkus: [SPE_E3]
              usageLocation: { default: USA }
            """
        )
        #expect(
            problems == [
                #"allot.yaml:1:9: `tenant` must be the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com, got string "contoso""#,
                #"allot.yaml:3:13: `graph.endpoint` must be an http(s) URL such as https://graph.microsoft.com/v1.0, got string "graph.microsoft.com""#,
                "allot.yaml:4:25: `graph.writeQuota.writes` must be at least 1, got 0",
                "allot.yaml:4:36: `graph.writeQuota.window` must be longer than zero",
                #"allot.yaml:8:29: `reconcile.usageLocation.default` must be a two-letter country code (ISO 3166-1 alpha-2) such as US, got string "USA""#,
            ]
        )
    }

    @Test("a setting written at the wrong level says where it belongs")
    func misplacedSetting() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            managedSkus: [SPE_E3]
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile: { managedSkus: [SPE_E3], listen: "127.0.0.1:1" }
            """
        )
        #expect(
            problems == [
                "allot.yaml:2:1: unknown key `managedSkus`: `managedSkus` belongs under `reconcile`",
                "allot.yaml:4:37: unknown key `listen` in `reconcile`: `listen` belongs under `status`",
            ]
        )
    }

    @Test("allot.yaml holds one mapping document")
    func documentShape() throws {
        #expect(
            try configurationProblems("[tenant]\n") == [
                "allot.yaml:1:1: allot.yaml must be a mapping of settings (`tenant`, `auth`, `reconcile`, ...), got a list"
            ]
        )
        #expect(
            try configurationProblems(Workspace.minimalConfiguration + "---\ntenant: other\n") == [
                "allot.yaml:7:1: allot.yaml holds one document; remove this second one (or its `---`)"
            ]
        )
    }

    @Test("a problem in allot.yaml does not stop the policies from being checked")
    func policiesCheckedDespiteConfigurationProblems() throws {
        let workspace = try Workspace(
            configuration: Workspace.minimalConfiguration + "logging: { level: loud }\n",
            policies: ["test.yaml": "name: a\nmatch: { all: true }\nlicenses: [{ sku: EMS }]\n"]
        )
        #expect(
            workspace.problems() == [
                "allot.yaml:6:19: unknown level `loud` (`logging.level`): valid values are trace, debug, info, notice, warning, error, critical",
                "policies/test.yaml:3:19: SKU `EMS` is not in `reconcile.managedSkus` (SPE_E3, SPE_E5, POWER_BI_PRO): add it there for Allot to assign it, or grant a managed SKU",
            ]
        )
    }

    @Test("without usable managed SKUs, policies are still checked, but not against them")
    func policiesWithoutManagedSkus() throws {
        let workspace = try Workspace(
            configuration:
                "tenant: contoso.onmicrosoft.com\nauth: { clientId: 00000000-0000-0000-0000-000000000000 }\nreconcile: { managedSkus: SPE_E3 }\n",
            policies: ["test.yaml": "name: a\nmatch: {}\nlicenses: [{ sku: EMS }]\n"]
        )
        #expect(
            workspace.problems() == [
                #"allot.yaml:3:27: `reconcile.managedSkus` must be a list of SKUs, got string "SPE_E3""#,
                "policies/test.yaml:2:1: `match` of policy `a` has no clause: give `groups` or `attributes`, or write `match: { all: true }` to match everyone",
            ]
        )
    }

    @Test("prices: a negative or non-numeric price, a missing or invalid currency, unknown keys, a SKU priced twice")
    func priceProblems() throws {
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth: { clientId: 00000000-0000-0000-0000-000000000000 }
            reconcile: { managedSkus: [SPE_E3] }
            prices:
              SPE_E5: { monthly: -57.00, currency: EUR }
              SPE_E3: { monthly: "36 euros", currency: EUR }
              POWER_BI_PRO: { monthly: 10 }
              EMS: { monthly: 9.5, currency: euro }
              FLOW_FREE: { monthly: 0, currency: USD, yearly: 0 }
              spe_e5: { monthly: 1, currency: EUR }
            monthly: 3
            """
        )
        #expect(
            problems == [
                "allot.yaml:5:22: `prices.SPE_E5.monthly` must not be negative, got number -57.00",
                #"allot.yaml:6:22: `prices.SPE_E3.monthly` must be a number, got string "36 euros""#,
                "allot.yaml:7:3: `prices.POWER_BI_PRO.currency` is required: the price's three-letter currency code (ISO 4217) such as EUR or USD",
                #"allot.yaml:8:34: `prices.EMS.currency` must be a three-letter currency code (ISO 4217) such as EUR or USD, got string "euro""#,
                "allot.yaml:9:43: unknown key `yearly` in `prices.FLOW_FREE`; expected one of: monthly, currency",
                "allot.yaml:10:3: SKU `spe_e5` is priced twice in `prices`",
                "allot.yaml:11:1: unknown key `monthly`: `monthly` belongs in each SKU's entry under `prices`, such as `prices: { SPE_E5: { monthly: 57.00, currency: EUR } }`",
            ]
        )
        #expect(
            try configurationProblems(
                """
                tenant: contoso.onmicrosoft.com
                auth: { clientId: 00000000-0000-0000-0000-000000000000 }
                reconcile: { managedSkus: [SPE_E3] }
                prices: [SPE_E3]
                """
            ) == [#"allot.yaml:4:9: `prices` must be a mapping of SKU to { monthly, currency }, got a list"#]
        )
    }
}
