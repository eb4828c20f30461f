import AllotTestSupport
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import Foundation
import Logging
import Synchronization
import Testing

/// Graph's answers read by meaning (issue 8's table), each through the real client and engine
/// against the simulator: what is "already done", "not the user's fault" or "stop now" is never
/// a per-user failure with a backoff.
@Suite("End to end: Graph's answers by meaning")
struct GraphAnswersTests {
    static func tenant(seed: UInt64 = 61, users: Int = 400, drift: Double = 10) -> Snapshot {
        TestTenant.generate(users: users, seed: seed, drift: drift)
    }

    static func failures(_ engine: InProcessEngine) throws -> [JSONValue] {
        guard case let .array(entries)? = try engine.workspace.stateDocument()["failures"] else { return [] }
        return entries
    }

    @Test("a batch whose answer was lost is resent: removals already made are checked and applied, nothing fails")
    func answerLost() async throws {
        try await InProcessEngine.with("lost-answer", tenant: Self.tenant()) { engine in
            // The first batch runs, then the connection closes: the client resends it, and Graph
            // answers its removals "User does not have a corresponding license."
            engine.simulator.addFault(SimulatedFault(kind: .dropAfterProcessing, path: "$batch", count: 1))
            // One batch at a time, so that the first (the calls that free seats) is the one dropped.
            let cycle = try await engine.cycle(adjustClient: { $0.concurrency.writeBatches = 1 })
            let plan = try #require(cycle.outcome.plan)
            #expect(plan.summary.removals > 0)
            let answers = engine.simulator.requestLog().flatMap { $0.batchItems ?? [] }
            #expect(answers.contains { $0.status == 400 }, "the resent removals were refused as already gone")
            #expect(cycle.report.failed.total == 0, "\(cycle.report.failures.prefix(3))")
            #expect(cycle.report.applied.removals == plan.summary.removals)
            #expect(cycle.report.applied.adds == plan.summary.adds)
            #expect(cycle.events("license.failed").isEmpty)
            #expect(try Self.failures(engine).isEmpty)
        }
    }

    @Test("a user deleted between the read and the write is user.gone: left alone, not a failure, no backoff")
    func userGone() async throws {
        let tenant = Self.tenant()
        try await InProcessEngine.with("user-gone", tenant: tenant) { engine in
            let plan = try #require(try await engine.cycle(.init(planOnly: true)).outcome.plan)
            let victim = try #require(plan.changes.first { $0.assignLicense != nil })
            // The engine reads its clock right after the read: the user goes then.
            let reads = Mutex(0)
            let simulator = engine.simulator
            let cycle = try await engine.cycle(now: {
                if reads.withLock({
                    $0 += 1; return $0
                }) == 2 {
                    simulator.deleteUser(victim.userId)
                }
                return Date()
            })
            let gone = cycle.events("user.gone")
            #expect(gone.count == 1)
            #expect(gone.first?["user.id"] == .string(victim.userId.description))
            #expect(cycle.report.usersGone == 1)
            #expect(cycle.report.failed.total == 0)
            #expect(cycle.events("license.failed").isEmpty)
            #expect(try Self.failures(engine).isEmpty)
            #expect(cycle.report.result == (plan.summary.deferredAdds == 0 ? .converged : .notConverged))
        }
    }

    @Test(
        "403 on a write stops the cycle's writes with one permission.denied naming the permission",
        arguments: [
            "LicenseAssignment.ReadWrite.All", "User.ReadWrite.All",
        ]
    )
    func permissionDenied(permission: String) async throws {
        var settings = Workspace.Settings()
        var roles: Set<String> = ["User.Read.All", "GroupMember.Read.All", "Organization.Read.All"]
        if permission == "User.ReadWrite.All" {
            roles.insert("LicenseAssignment.ReadWrite.All")
        } else {
            settings.usageLocationDefault = nil  // no PATCH: the license calls meet the 403 first
        }
        let granted = roles
        try await InProcessEngine.with("forbidden", tenant: Self.tenant(users: 2_000), settings: settings) { engine in
            engine.simulator.setRoles(granted, forClient: SimulatorProcess.clientId)
            let cycle = try await engine.cycle()
            let denied = cycle.events("permission.denied")
            #expect(denied.count == 1)
            #expect(denied.first?["permission"] == .string(permission))
            #expect(cycle.report.writesRefused?.contains(permission) == true)
            #expect(cycle.report.notSent > 0, "the rest was not sent")
            #expect(cycle.report.result == .notConverged)
            #expect(cycle.events("license.failed").isEmpty)
            // Answered in order: after the first batch that met the 403, only the one other batch
            // already in flight (two go at once) may follow.
            let batches = engine.simulator.requestLog().filter { $0.batchItems != nil }
            let first = try #require(batches.firstIndex { $0.batchItems!.contains { $0.status == 403 } })
            #expect(batches.count - first - 1 <= 1, "batches sent after the first 403: \(batches.count - first - 1)")
            #expect(try Self.failures(engine).isEmpty, "a missing permission backs nobody off")
        }
    }

    @Test(
        "a usage location Graph has not replicated yet: the license call is retried once after the PATCH, and applied"
    )
    func replicationLag() async throws {
        // The simulator's clock stands still until the first license call is refused for the
        // usage location, then moves past the lag: the retry (5 s later) finds it replicated.
        let clock = ManualSimulatorClock()
        try await InProcessEngine.with(
            "replication",
            tenant: Self.tenant(),
            configure: {
                $0.consistencyLag = .seconds(1); $0.clock = clock
            }
        ) { engine in
            let simulator = engine.simulator
            let watcher = Task {
                while !Task.isCancelled {
                    if simulator.requestLog().contains(where: { $0.batchItems?.contains { $0.status == 400 } == true })
                    {
                        clock.advance(by: .seconds(2))
                        return
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            defer { watcher.cancel() }
            let cycle = try await engine.cycle()
            let plan = try #require(cycle.outcome.plan)
            #expect(plan.summary.usageLocationUpdates > 0)
            let refused = engine.simulator.requestLog().flatMap { $0.batchItems ?? [] }.filter { $0.status == 400 }
            // The license calls sent before the clock moved were refused once each; later ones were not.
            #expect((1...plan.summary.usageLocationUpdates).contains(refused.count), "\(refused.count) refused")
            #expect(cycle.report.failed.total == 0, "\(cycle.report.failures.prefix(3))")
            #expect(cycle.report.applied.usageLocations == plan.summary.usageLocationUpdates)
            #expect(cycle.report.applied.adds == plan.summary.adds)
        }
    }

    @Test("a usage location still not replicated after the one retry is reported as the user's failure")
    func replicationTooSlow() async throws {
        try await InProcessEngine.with(
            "replication-slow",
            tenant: Self.tenant(),
            configure: { $0.consistencyLag = .seconds(60) }
        ) { engine in
            let cycle = try await engine.cycle(adjustClient: { $0.replicationDelay = .milliseconds(50) })
            let plan = try #require(cycle.outcome.plan)
            let failed = cycle.events("license.failed")
            #expect(failed.count == plan.summary.usageLocationUpdates)
            #expect(failed.allSatisfy { $0["kind"] == "usageLocation" })
            let attempts = engine.simulator.requestLog().flatMap { $0.batchItems ?? [] }.filter { $0.status == 400 }
                .count
            #expect(attempts == 2 * plan.summary.usageLocationUpdates, "one retry each")
        }
    }

    @Test("a policy that disables a prerequisite plan is one policy.conflict for its SKU; nobody is backed off")
    func dependency() async throws {
        try await InProcessEngine.with("dependency", tenant: Self.tenant()) { engine in
            // E5's Teams Phone needs Teams: disabling Teams makes Graph refuse every E5 call.
            try engine.workspace.writePolicy(
                "engineering.yaml",
                """
                name: engineering-e5
                priority: 100
                match:
                  groups: [Engineering]
                  attributes: { accountEnabled: true }
                  exclude: { groups: [License Exempt] }
                licenses:
                  - sku: SPE_E5
                    disabledPlans: [YAMMER_ENTERPRISE, TEAMS1]
                    replaces: [SPE_E3]

                """
            )
            let reloaded = try engine.reloaded()
            let cycle = try await reloaded.cycle()
            let plan = try #require(cycle.outcome.plan)
            let e5Calls = plan.changes.filter { change in
                change.adds.contains { $0.sku == "SPE_E5" } || change.planChanges.contains { $0.sku == "SPE_E5" }
            }
            #expect(!e5Calls.isEmpty)
            let conflicts = cycle.events("policy.conflict")
            #expect(conflicts.count == 1)
            #expect(conflicts.first?["policy"] == "engineering-e5")
            #expect(conflicts.first?["sku"] == "SPE_E5")
            #expect(conflicts.first?["kind"] == "dependency")
            #expect(conflicts.first?["users"] == .stringConvertible(e5Calls.count))
            #expect(
                cycle.report.policyConflicts.first?.plans.contains("TEAMS1") == true,
                "\(cycle.report.policyConflicts)"
            )
            #expect(cycle.events("license.failed").isEmpty)
            #expect(try Self.failures(engine).isEmpty)
            #expect(cycle.report.result == .notConverged)
        }
    }

    @Test(
        "plans that exclude those of another SKU the user holds: one policy.conflict per SKU pair; nobody is backed off"
    )
    func mutuallyExclusive() async throws {
        var tenant = Self.tenant()
        let index = tenant.users.firstIndex { user in
            TestTenant.holdsDirectly(user, "SPE_E3") && !TestTenant.holdsThroughGroup(user, "SPE_E3")
                && !TestTenant.holdsDirectly(user, "POWER_BI_PRO")
        }!
        let states = (tenant.users[index].licenseAssignmentStates ?? []).filter {
            $0.isDirect && $0.skuId != TestTenant.sku("SPE_E3")
        }
        TestTenant.setDirect(
            states + [LicenseAssignmentState(skuId: TestTenant.sku("TEAMS_EXPLORATORY"))],
            of: index,
            in: &tenant
        )
        TestTenant.addSeats(1, to: "TEAMS_EXPLORATORY", in: &tenant)
        TestTenant.recountConsumedUnits(&tenant)
        let user = tenant.users[index]
        // Graph lifted Exchange Online's exclusions; this simulator keeps one for the test.
        let exchange = [GUID("9aaf7827-d63c-4b61-89c3-182f06f82e5c")!, GUID("efb87545-963c-4e0d-99df-69c6916d9eb0")!]
        try await InProcessEngine.with(
            "exclusive",
            tenant: tenant,
            configure: { $0.licensingRules.mutuallyExclusive = [Set(exchange)] }
        ) { engine in
            let cycle = try await engine.cycle()
            let conflicts = cycle.events("policy.conflict")
            #expect(conflicts.count == 1)
            let conflict = try #require(conflicts.first)
            #expect(conflict["sku"] == "SPE_E3")
            #expect(conflict["conflicting_sku"] == "TEAMS_EXPLORATORY")
            #expect(conflict["kind"] == "mutuallyExclusive")
            #expect(conflict["users"] == .stringConvertible(1))
            #expect(conflict["example_user"] == .string(user.userPrincipalName))
            #expect(
                cycle.report.policyConflicts.first?.plans.sorted() == ["EXCHANGE_S_ENTERPRISE", "EXCHANGE_S_STANDARD"]
            )
            #expect(cycle.events("license.failed").isEmpty)
            #expect(try Self.failures(engine).isEmpty)
        }
    }

    @Test(
        "a $batch answered 429 as a whole waits and is resent; graph.throttled names the throttle scope and request id"
    )
    func batchThrottled() async throws {
        try await InProcessEngine.with("throttled", tenant: Self.tenant()) { engine in
            engine.simulator.addFault(SimulatedFault(kind: .throttle, path: "$batch", count: 1, retryAfterSeconds: 1))
            let cycle = try await engine.cycle()
            #expect(cycle.report.failed.total == 0)
            let throttled = cycle.events("graph.throttled")
            #expect(!throttled.isEmpty)
            #expect(
                throttled.allSatisfy { $0["graph.throttle_scope"] != "none" && $0["graph.request_id"] != "none" },
                "\(throttled)"
            )
        }
    }

    @Test(
        "a $batch answered non-2xx with per-request responses is read item by item, not resent",
        arguments: [429, 503]
    )
    func batchStatusWithResponses(status: Int) async throws {
        try await InProcessEngine.with("batch-status", tenant: Self.tenant()) { engine in
            engine.simulator.addFault(SimulatedFault(kind: .batchStatus, path: "$batch", count: 1, status: status))
            let cycle = try await engine.cycle()
            let plan = try #require(cycle.outcome.plan)
            #expect(cycle.report.failed.total == 0)
            #expect(cycle.report.applied.adds == plan.summary.adds)
            let items = engine.simulator.requestLog().flatMap { $0.batchItems ?? [] }
            #expect(
                items.allSatisfy { $0.status < 400 },
                "no item was sent twice: \(items.filter { $0.status >= 400 }.prefix(3))"
            )
        }
    }
}
