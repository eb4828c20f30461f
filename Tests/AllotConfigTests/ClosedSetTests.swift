import AllotConfig
import AllotCore
import Testing

/// The closed sets of the files (attribute operators, credential kinds) are enums: each
/// keyword loads as its own case, and anything else is a problem at load.
@Suite("Closed sets: operators and credential kinds")
struct ClosedSetTests {
    @Test("every operator keyword loads as its operator", arguments: AttributeOperator.Keyword.allCases)
    func operatorKeyword(keyword: AttributeOperator.Keyword) throws {
        let operand =
            switch keyword {
            case .in, .notIn: "[Sales]"
            case .startsWith, .endsWith, .matches: "Sales"
            case .exists: "true"
            case .before, .after: "2026-01-01"
            case .olderThan, .withinLast: "30d"
            }
        // The date operators apply only to date attributes.
        let attribute =
            switch keyword {
            case .before, .after, .olderThan, .withinLast: "employeeHireDate"
            default: "department"
            }
        let workspace = try Workspace(policies: [
            "test.yaml":
                "name: a\nmatch: { attributes: { \(attribute): { \(keyword.rawValue): \(operand) } } }\nlicenses: [{ sku: SPE_E3 }]\n"
        ])
        let operators = try #require(try workspace.load().policies.policies.first?.match.attributes.first?.operators)
        let expected: AttributeOperator =
            switch keyword {
            case .in: .anyOf(["Sales"])
            case .notIn: .noneOf(["Sales"])
            case .startsWith: .startsWith(["Sales"])
            case .endsWith: .endsWith(["Sales"])
            case .matches: .matches("Sales")
            case .exists: .exists(true)
            case .before: .before(PolicyDates.instant("2026-01-01")!)
            case .after: .after(PolicyDates.instant("2026-01-01")!)
            case .olderThan: .olderThan(30 * 86_400)
            case .withinLast: .withinLast(30 * 86_400)
            }
        #expect(operators == [expected])
    }

    @Test("each credential kind is an auth key; a key that is none is refused at load")
    func credentialKinds() throws {
        #expect(
            AllotConfiguration.Credential.Kind.allCases.map(\.rawValue) == [
                "clientSecretFile", "certificate", "federatedTokenFile", "managedIdentity",
            ]
        )
        let problems = try configurationProblems(
            """
            tenant: contoso.onmicrosoft.com
            auth: { clientId: 11111111-2222-3333-4444-555555555555, password: /etc/secret }
            reconcile: { managedSkus: [SPE_E3] }
            """
        )
        #expect(
            problems.contains { $0.hasPrefix("allot.yaml:2:") && $0.contains("unknown key `password` in `auth`") },
            "\(problems)"
        )
    }
}
