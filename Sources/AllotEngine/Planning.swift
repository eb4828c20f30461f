import AllotCore
import AllotGraph
import Foundation

/// Where a plan's tenant comes from: read live from Graph, or a snapshot already loaded.
public enum TenantSource: Sendable {
    /// Read what the policies need from Graph, reporting progress.
    case live(GraphClient, progress: ProgressReporter)
    /// A tenant already in memory (`--snapshot FILE`).
    case snapshot(TenantModel)

    /// The tenant, read now when live.
    func tenant(for policies: [Policy]) async throws -> TenantModel {
        switch self {
        case .live(let graph, let progress): return try await graph.readTenant(for: policies, progress: progress)
        case .snapshot(let tenant): return tenant
        }
    }
}

/// A plan ready to be made: the policies compiled against a tenant, and the planning options
/// filled in from the state file, the group shrink hold, the backoff and the clock.
/// ``ReconcileEngine/plan(policies:tenant:settings:state:options:now:)`` prepares it.
public struct PreparedPlan: Sendable {
    /// The tenant planned against.
    public let tenant: TenantModel
    public let planner: Planner
    public let options: PlanningOptions
    /// The state file as loaded (a cycle carries it forward), with why it could not be used, if so.
    public let state: StateStore.Loaded
    /// What the group shrink hold found in this tenant's group counts.
    public let shrinks: GroupShrinkHold.Outcome

    /// The plan.
    public func plan() -> Plan { planner.plan(options: options) }

    /// Why the plan wants what it wants for one user (userPrincipalName or object id); `nil`
    /// when the tenant has no such user.
    public func explain(user: String) -> Explanation? { planner.explain(user: user, options: options) }
}

extension ReconcileEngine {
    /// The one place a plan is prepared: every cycle (the daemon's, `allot apply`, `allot plan`),
    /// `allot plan --snapshot`, `allot explain` and `allot validate --snapshot` come here, so the
    /// compilation and ``PlanningOptions`` are the same for all of them.
    ///
    /// - Parameters:
    ///   - state: the state file (pending removals, remembered group counts, backoff); `nil`
    ///     for none, as `allot validate` only checks that the policies fit the tenant.
    ///   - options: `evaluateAt` is the moment date conditions are evaluated at (`--at`; a
    ///     cycle passes its start); `planOnly` reads the state file without moving a corrupt one aside;
    ///     `honourBackoff` leaves users in backoff alone; `allowMassRemoval` overrides the guards.
    ///   - now: the clock, read once, after the tenant is read and the policies compiled:
    ///     removal delays and backoff count from then (a test may change the tenant there,
    ///     between the read and the writes).
    /// - Throws: the read's error for a live tenant; `DiagnosticsError` when the policies do not
    ///   fit the tenant (unknown or ambiguous group, unknown SKU or plan, a missing attribute).
    public static func plan(
        policies: [Policy],
        tenant source: TenantSource,
        settings: ReconcileSettings,
        state store: StateStore?,
        options: Options,
        now clock: () -> Date
    ) async throws -> PreparedPlan {
        let tenant = try await source.tenant(for: policies)
        // Date conditions as of `options.evaluateAt` (a cycle passes its start; `--at` another
        // moment), else as of now.
        let evaluatedAt = Int64((options.evaluateAt ?? Date()).timeIntervalSince1970.rounded(.down))
        let compiled = try CompiledPolicies(
            policies: policies,
            settings: settings,
            tenant: tenant,
            evaluatedAt: evaluatedAt
        )
        let planner = Planner(tenant: tenant, policies: compiled, settings: settings)
        let now = clock()
        let state = store?.load(now: now, setAside: !options.planOnly) ?? StateStore.Loaded(state: EngineState())
        let shrinks = GroupShrinkHold(rule: settings.guardrail, allowMassRemoval: options.allowMassRemoval)
            .evaluate(groups: tenant.groups, counts: tenant.memberCounts, remembered: state.state.groups)
        let seconds = Int64(now.timeIntervalSince1970)
        let planning = PlanningOptions(
            allowMassRemoval: options.allowMassRemoval,
            removalHistory: state.state.removalHistory,
            now: seconds,
            usersInBackoff: options.honourBackoff ? state.state.usersInBackoff(at: seconds) : [],
            shrunkGroups: shrinks.heldGroups
        )
        return PreparedPlan(tenant: tenant, planner: planner, options: planning, state: state, shrinks: shrinks)
    }
}
