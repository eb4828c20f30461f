import AllotConfig
import AllotCore
import AllotEngine
import AllotTestSupport
import Foundation
import Testing

/// `ReconcileEngine.plan(policies:tenant:settings:state:options:now:)`, the one place a plan is
/// prepared, in process on the README's example configuration and saved tenant.
@Suite("The planning entry point")
struct PlanningEntryPointTests {
    static let exampleConfig = TestPaths.repository.appendingPathComponent("docs/examples/allot.yaml").path
    static let exampleSnapshot = TestPaths.repository.appendingPathComponent("docs/examples/snapshot.json")

    static func exampleTenant() throws -> TenantModel {
        try TenantModel(snapshot: JSONDecoder().decode(Snapshot.self, from: Data(contentsOf: exampleSnapshot)))
    }

    static let readOnly = ReconcileEngine.Options(honourBackoff: false, planOnly: true)

    @Test("a snapshot tenant: the plan, an explanation, and the options filled from the clock")
    func snapshotPlan() async throws {
        let loaded = try ConfigurationLoader().load(configurationAt: Self.exampleConfig)
        let now = Date(timeIntervalSince1970: 1_796_601_600)
        let prepared = try await ReconcileEngine.plan(
            policies: loaded.policies.policies,
            tenant: .snapshot(Self.exampleTenant()),
            settings: loaded.configuration.reconcile,
            state: nil,
            options: Self.readOnly,
            now: { now }
        )
        #expect(prepared.options.now == 1_796_601_600)
        #expect(prepared.options.usersInBackoff.isEmpty)
        #expect(!prepared.options.allowMassRemoval)
        #expect(prepared.state.recovery == nil)
        #expect(prepared.plan().changes.contains { $0.userPrincipalName == "megan.smith@contoso.com" })
        #expect(prepared.explain(user: "megan.smith@contoso.com") != nil)
        #expect(prepared.explain(user: "nobody@contoso.com") == nil)
    }

    @Test("policies that do not fit the tenant: every problem, before any state is read")
    func unfitPolicies() async throws {
        let loaded = try ConfigurationLoader().load(configurationAt: Self.exampleConfig)
        var policies = loaded.policies.policies
        policies[0].match.groups = [
            GroupReference("No Such Team", at: SourceLocation(file: "policy.yaml", line: 3, column: 5))
        ]
        await #expect(throws: DiagnosticsError.self) {
            _ = try await ReconcileEngine.plan(
                policies: policies,
                tenant: .snapshot(Self.exampleTenant()),
                settings: loaded.configuration.reconcile,
                state: nil,
                options: Self.readOnly,
                now: Date.init
            )
        }
    }
}
