import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `allot apply` against a simulator that misbehaves: throttling, server errors, dropped
/// connections, a failing page, a token outage, a restart, and `allot` itself killed. In every
/// case the tenant ends as the plan wanted and no license the policies keep is ever removed.
@Suite("End to end: faults")
struct FaultTests {
    /// Faults a cycle rides out in one apply.
    struct TransientFaults: Sendable, CustomTestStringConvertible {
        var name: String
        var seed: UInt64
        var faults: [SimulatedFault]
        /// The event the faults must show up as, if any.
        var event: String?
        var testDescription: String { name }
    }

    static let transientFaults = [
        TransientFaults(
            name: "429 storm",
            seed: 31,
            faults: [
                SimulatedFault(kind: .throttle, path: "/assignLicense", count: 60, retryAfterSeconds: 1),
                SimulatedFault(kind: .throttle, method: "PATCH", count: 5, retryAfterSeconds: 1),
                SimulatedFault(kind: .throttle, path: "$batch", after: 2, count: 2, retryAfterSeconds: 1),
                SimulatedFault(kind: .throttle, method: "GET", path: "/users", count: 3, retryAfterSeconds: 1),
            ],
            event: "graph.throttled"
        ),
        TransientFaults(
            name: "5xx",
            seed: 32,
            faults: [
                SimulatedFault(kind: .serverError, path: "$batch", count: 2, status: 503),
                SimulatedFault(kind: .serverError, path: "/assignLicense", after: 5, count: 10, status: 500),
                SimulatedFault(kind: .serverError, method: "PATCH", count: 3, status: 504),
                SimulatedFault(kind: .serverError, method: "GET", path: "/users", count: 2, status: 502),
                SimulatedFault(kind: .serverError, path: "/subscribedSkus", count: 1, status: 503),
            ]
        ),
        TransientFaults(
            name: "dropped connections",
            seed: 33,
            faults: [
                SimulatedFault(kind: .dropConnection, path: "$batch", count: 2),
                SimulatedFault(kind: .dropConnection, path: "$batch", after: 4, count: 1),
                SimulatedFault(kind: .dropConnection, method: "GET", path: "/users", count: 1),
                SimulatedFault(kind: .dropConnection, path: "/transitiveMembers", count: 1),
            ]
        ),
    ]

    @Test("transient faults are ridden out: the tenant converges in one apply", arguments: transientFaults)
    func transient(_ faults: TransientFaults) async throws {
        let scenario = try await Scenario("faults-\(faults.seed)", seed: faults.seed)
        for fault in faults.faults { try await scenario.simulator.addFault(fault) }
        try await scenario.simulator.clearRequests()
        let result = try await scenario.workspace.apply()
        scenario.expectComplete(result)
        if let event = faults.event { #expect(!result.events(event).isEmpty, "no \(event) logged") }
        let log = try await scenario.simulator.requests()
        #expect(
            log.contains { $0.status >= 429 || $0.status == 0 || ($0.batchItems ?? []).contains { $0.status >= 429 } },
            "the faults fired"
        )
        try await scenario.expectConverged(logs: [log])
        try await scenario.expectIdempotent()
    }

    @Test(
        "a page of users that keeps failing: the cycle writes nothing, exits 1 naming the read; the next one converges"
    )
    func failingPage() async throws {
        let scenario = try await Scenario("failpage", seed: 34)
        try await scenario.simulator.addFault(SimulatedFault(kind: .failPage, path: "/users", after: 1, count: -1))
        try await scenario.simulator.clearRequests()
        let failed = try await scenario.workspace.apply()
        #expect(failed.status == 1, "\(failed.summary)")
        let error = failed.events("cycle.failed").first?["error"]?.stringValue ?? ""
        #expect(error.contains("/users"), "cycle.failed names the read: \(error)")
        #expect(failed.finished["result"] == "failed")
        #expect(try await scenario.simulator.requests().writes.isEmpty)
        #expect(
            TenantExpectations.directState(try await scenario.simulator.tenant())
                == TenantExpectations.directState(scenario.initial)
        )

        try await scenario.simulator.clearFaults()
        try await scenario.simulator.clearRequests()
        scenario.expectComplete(try await scenario.workspace.apply())
        try await scenario.expectConverged(logs: [try await scenario.simulator.requests()])
    }

    @Test("a token outage: a long one fails the cycle with nothing written, a short one is ridden out")
    func tokenOutage() async throws {
        let scenario = try await Scenario("token", seed: 35)
        try await scenario.simulator.addFault(SimulatedFault(kind: .tokenOutage, count: -1))
        try await scenario.simulator.clearRequests()
        let failed = try await scenario.workspace.apply()
        #expect(failed.status == 1, "\(failed.summary)")
        let error = failed.events("cycle.failed").first?["error"]?.stringValue ?? ""
        #expect(error.contains("token"), "cycle.failed says the token could not be had: \(error)")
        let log = try await scenario.simulator.requests()
        #expect(log.writes.isEmpty)
        #expect(!log.contains { $0.path.hasPrefix("/v1.0/") }, "no Graph request without a token")

        try await scenario.simulator.clearFaults()
        try await scenario.simulator.addFault(SimulatedFault(kind: .tokenOutage, count: 2))
        try await scenario.simulator.clearRequests()
        scenario.expectComplete(try await scenario.workspace.apply())
        try await scenario.expectConverged(logs: [try await scenario.simulator.requests()])
    }

    @Test("the simulator stopped mid-cycle and restarted from the tenant it had: the tenant still converges")
    func simulatorRestart() async throws {
        let scenario = try await Scenario("restart", users: 2_000, seed: 36)
        let apply = try await scenario.startSlowApply(batchLatency: 1_500, runUntilBatches: 1)
        defer { apply.stop() }
        // From now on every batch, once it has waited out its 1.5 s, is dropped unapplied (the
        // client retries it, against the restarted simulator): nothing is applied after the tenant
        // is saved, so no answered write is lost with the old simulator. (Without this, a seat-
        // freeing removal could be answered, then lost, and the add that took its seat fail.)
        try await scenario.simulator.addFault(SimulatedFault(kind: .dropConnection, path: "$batch", count: -1))
        // A batch past the drop check when it was armed is being answered: wait for that answer.
        try await waitUntil(
            "the batches past the drop check to be answered",
            timeout: .seconds(60),
            interval: .milliseconds(100)
        ) {
            try await scenario.simulator.requests().contains { $0.path.hasSuffix("$batch") && $0.status == 0 }
        }
        // The tenant first, then the log.
        let savedTenant = scenario.workspace.directory + "/tenant-before-restart.json"
        try await scenario.simulator.tenantDocument().write(to: URL(fileURLWithPath: savedTenant))
        let beforeRestart = try await scenario.simulator.requests()
        scenario.simulator.stop()
        scenario.simulator = try await SimulatorProcess(
            tenantFile: savedTenant,
            port: scenario.simulator.port,
            workspace: scenario.workspace.directory,
            name: "simulator-restarted"
        )

        // Whether a batch's retries (six, about 15 to 30 s of backoff) outlast the restart
        // depends on how fast this machine starts a process: writes whose retries ran out are
        // reported failed (exit 1), never lost and never doubled, and the next apply makes them.
        let status = try await apply.exitStatus(within: .seconds(300))
        let interrupted = RunResult(
            status: status,
            standardOutput: apply.standardOutput,
            standardError: apply.standardError
        )
        interrupted.expectLogContract()
        let afterRestart = try await scenario.simulator.requests()
        if status == 1 {
            let undone = ["failed.adds", "failed.removals", "failed.plan_changes", "not_sent"].map {
                interrupted.count($0) ?? 0
            }
            #expect(undone.reduce(0, +) > 0, "exit 1 reports what was not done: \(interrupted.finished)")
        } else {
            scenario.expectComplete(interrupted)
            #expect(afterRestart.contains { $0.batchItems != nil }, "the apply went on against the restarted simulator")
        }

        try await scenario.simulator.clearRequests()
        let repair = try await scenario.workspace.apply()
        scenario.expectComplete(repair)
        try await scenario.expectConverged(logs: [beforeRestart, afterRestart, try await scenario.simulator.requests()])
        try await scenario.expectIdempotent()
    }

    @Test("allot apply killed with SIGKILL mid-batch: the next apply finishes the job, no duplicate, nothing lost")
    func killedMidBatch() async throws {
        let scenario = try await Scenario("sigkill", users: 2_000, seed: 37)
        let apply = try await scenario.startSlowApply(batchLatency: 1_000, runUntilBatches: 3)
        defer { apply.stop() }
        apply.signal(SIGKILL)
        #expect(try await apply.exitStatus(within: .seconds(10)) != 0)
        try await scenario.simulator.clearFaults()
        // Batches the killed apply had in flight still finish on the simulator's side; wait for them.
        var logged = -1
        try await waitUntil(
            "the killed apply's batches to settle",
            timeout: .seconds(20),
            interval: .milliseconds(1_500)
        ) {
            let count = try await scenario.simulator.requests().count
            defer { logged = count }
            return count == logged
        }
        let killedLog = try await scenario.simulator.requests()
        let doneBeforeKill = Self.appliedWrites(killedLog)
        #expect(!doneBeforeKill.isEmpty, "the killed apply had written something")

        try await scenario.simulator.clearRequests()
        let rerun = try await scenario.workspace.apply()
        scenario.expectComplete(rerun)
        #expect(rerun.events("state.recovered").isEmpty, "the state file survived the kill")
        let rerunLog = try await scenario.simulator.requests()
        let doneByRerun = Self.appliedWrites(rerunLog)
        #expect(!doneByRerun.isEmpty, "the kill came before the end of the cycle")
        #expect(
            doneBeforeKill.isDisjoint(with: doneByRerun),
            "a change was sent twice: \(doneBeforeKill.intersection(doneByRerun).prefix(3))"
        )
        let planned = Set(
            scenario.plan.changes.flatMap { change in
                (change.setUsageLocation == nil ? [] : ["PATCH \(change.userId)"])
                    + (change.assignLicense == nil ? [] : ["POST \(change.userId)"])
            }
        )
        #expect(doneBeforeKill.union(doneByRerun) == planned, "every planned write was made exactly once")
        try await scenario.expectConverged(logs: [killedLog, rerunLog])
        try await scenario.expectIdempotent()
    }

    @Test("Graph unreachable for writes: every call fails as unavailable, nothing half-done; the next apply converges")
    func writeOutage() async throws {
        // Only license adds to send (no usage locations, no removals): one phase of retries.
        var settings = Workspace.Settings()
        settings.usageLocationDefault = nil
        let scenario = try await Scenario("outage", users: 200, seed: 38, drift: 0, settings: settings) { tenant in
            var stripped = 0
            for index in tenant.users.indices
            where stripped < 5 && TestTenant.holdsDirectly(tenant.users[index], "SPE_E3")
                && !TestTenant.holdsThroughGroup(tenant.users[index], "SPE_E3")
            {
                let kept = (tenant.users[index].licenseAssignmentStates ?? []).filter {
                    $0.isDirect && $0.skuId != TestTenant.sku("SPE_E3")
                }
                TestTenant.setDirect(kept, of: index, in: &tenant)
                stripped += 1
            }
        }
        let calls = scenario.plan.changes.filter { $0.assignLicense != nil }
        #expect(
            calls.count >= 5 && scenario.plan.summary.removals == 0 && scenario.plan.summary.usageLocationUpdates == 0
        )
        try await scenario.simulator.addFault(SimulatedFault(kind: .dropConnection, path: "$batch", count: -1))
        let failed = try await scenario.workspace.apply()
        #expect(failed.status == 3, "\(failed.summary)")
        #expect(failed.count("failed.adds") == scenario.plan.summary.adds)
        #expect(failed.count("applied.adds") == 0)
        let events = failed.events("license.failed")
        #expect(events.count == calls.count)
        for event in events {
            #expect(event["kind"] == "unavailable" && event["graph.code"] == "none", "\(event)")
            #expect(event["graph.status"] == nil, "no response, no status: \(event)")
            #expect(event["graph.message"]?.stringValue?.isEmpty == false)
        }
        guard case let .array(failures)? = try scenario.workspace.stateDocument()["failures"] else {
            throw HarnessError("no failures in state.json")
        }
        #expect(failures.count == calls.count, "every failed user backs off")
        #expect(
            TenantExpectations.directState(try await scenario.simulator.tenant())
                == TenantExpectations.directState(scenario.initial)
        )

        try await scenario.simulator.clearFaults()
        try await scenario.simulator.clearRequests()
        scenario.expectComplete(try await scenario.workspace.apply())
        try await scenario.expectConverged(logs: [try await scenario.simulator.requests()])
        #expect(try scenario.workspace.stateDocument()["failures"] == .array([]), "a success clears the backoff")
    }

    /// The writes a simulator accepted, as "METHOD user".
    static func appliedWrites(_ log: [LoggedRequest]) -> Set<String> {
        Set(
            log.batchItems.filter { (200..<300).contains($0.status) }.compactMap { item in
                TenantExpectations.user(of: item).map { "\(item.method) \($0)" }
            }
        )
    }
}
