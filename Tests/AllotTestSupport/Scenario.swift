import AllotCore
import AllotSimulator
import Foundation
import Testing

/// One end-to-end setup: a generated tenant served by `allot simulate`, a workspace whose
/// `allot.yaml` points at it, and the plan `allot plan --output json` made before anything ran.
public final class Scenario {
    public let workspace: Workspace
    public let initial: Snapshot
    public var simulator: SimulatorProcess
    public private(set) var plan: PlanDocument

    /// - Parameter adjust: changes the generated tenant before it is served (seat counts are
    ///   made to match the holders afterwards).
    public init(
        _ label: String,
        users: Int = 1_000,
        seed: UInt64,
        drift: Double = 20,
        settings: Workspace.Settings = Workspace.Settings(),
        adjust: (inout Snapshot) -> Void = { _ in }
    ) async throws {
        workspace = try Workspace(label)
        var tenant = TestTenant.generate(users: users, seed: seed, drift: drift)
        adjust(&tenant)
        TestTenant.recountConsumedUnits(&tenant)
        initial = tenant
        try workspace.writeTenant(tenant)
        simulator = try await SimulatorProcess(tenantFile: workspace.tenantPath, workspace: workspace.directory)
        try workspace.configure(simulator: simulator.baseURL, settings)
        plan = try await workspace.plan()
    }

    deinit { simulator.stop() }

    /// Takes the plan again (after a policy or state change).
    public func replan() async throws -> PlanDocument {
        plan = try await workspace.plan()
        return plan
    }

    /// The exit status an apply that did everything the plan asked ends with: 3 when adds are
    /// deferred for lack of seats, else 0.
    public var convergedStatus: Int32 { plan.deferred.isEmpty && plan.skipped.isEmpty ? 0 : 3 }

    /// Checks that an apply did all the plan asked: nothing failed, nothing left unsent.
    public func expectComplete(_ result: RunResult, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(result.status == convergedStatus, "\(result.summary)", sourceLocation: sourceLocation)
        for field in ["failed.adds", "failed.removals", "failed.plan_changes", "failed.usage_locations", "not_sent"] {
            #expect(
                result.count(field) == 0,
                "\(field) in cycle.finished: \(result.finished)",
                sourceLocation: sourceLocation
            )
        }
    }

    /// Checks the tenant is what the plan wanted, and that no request ever removed a license
    /// the plan keeps (over every request log given: one per simulator run).
    public func expectConverged(
        logs: [[LoggedRequest]],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        var removed: Set<PendingRemoval> = []
        for log in logs {
            removed.formUnion(
                TenantExpectations.expectOnlyPlannedRemovals(log, plan: plan, sourceLocation: sourceLocation)
            )
        }
        #expect(
            removed.count == plan.summary.removals,
            "every planned removal was made",
            sourceLocation: sourceLocation
        )
        TenantExpectations.expectConverged(
            try await simulator.tenant(),
            initial: initial,
            plan: plan,
            sourceLocation: sourceLocation
        )
    }

    /// Runs one more apply and checks that it sends no write.
    public func expectIdempotent(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        try await simulator.clearRequests()
        let again = try await workspace.apply(sourceLocation: sourceLocation)
        #expect(again.status == convergedStatus, "\(again.summary)", sourceLocation: sourceLocation)
        let writes = try await simulator.requests().writes
        #expect(
            writes.isEmpty,
            "a converged tenant got writes: \(writes.prefix(3).map(\.path))",
            sourceLocation: sourceLocation
        )
    }

    /// Starts `allot apply` with every `$batch` delayed by `latency` milliseconds, and returns once
    /// the simulator has answered `batches` of them: the apply is then mid-cycle.
    public func startSlowApply(batchLatency latency: Int, runUntilBatches batches: Int) async throws -> ChildProcess {
        try await simulator.addFault(
            SimulatedFault(kind: .latency, path: "$batch", count: -1, delayMilliseconds: latency)
        )
        try await simulator.clearRequests()
        let apply = try workspace.start(["apply"])
        let simulator = simulator
        try await waitUntil("\(batches) batches", timeout: .seconds(60), interval: .milliseconds(25)) {
            try await simulator.requests().filter { $0.batchItems != nil }.count >= batches
        }
        return apply
    }
}
