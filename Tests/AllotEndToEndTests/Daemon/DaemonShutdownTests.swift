import AllotTestSupport
import AllotSimulator
import Foundation
import Glibc
import Testing

extension DaemonProcessTests {
    /// Batches the Graph client keeps in flight at once (`GraphClient.Concurrency.writeBatches`).
    static let batchesInFlight = 2

    @Test(
        "SIGTERM during a slow apply: the batches in flight finish, nothing is sent after STOPPING, exit 0, the next run finishes the job"
    )
    func stopDuringApply() async throws {
        // 2,000 users, a fifth of them drifted: about 400 writes, 20 batches, each held 1.5 s.
        let testbed = try await Testbed("stop", users: 2_000, seed: 14, drift: 20)
        try testbed.configure(interval: "1h")
        try await testbed.addFault(
            SimulatedFault(kind: .latency, method: "POST", path: "/$batch", count: -1, delayMilliseconds: 1_500)
        )
        let systemd = try NotificationRecorder(statusPort: testbed.statusPort)
        defer { systemd.stop() }
        let daemon = try await testbed.startDaemon(systemd: ["NOTIFY_SOCKET": systemd.notifySocket])
        defer { daemon.child.stop() }

        try await waitUntil("two batches answered", timeout: .seconds(120), interval: .milliseconds(100)) {
            try await testbed.requestLog().batches.count >= 2
        }
        let stopAt = systemd.all.count
        daemon.child.signal(SIGTERM)
        try await systemd.first(from: stopAt, "STOPPING=1") { $0.has("STOPPING=1") }
        let answeredAtStopping = try await testbed.requestLog().batches.count
        #expect(
            try await daemon.child.exitStatus(within: Self.stopTimeout) == 0,
            "\(daemon.child.standardError.suffix(2000))"
        )

        // Only the batches in flight when STOPPING=1 was sent came after it, and each finished:
        // every item has Graph's answer, and the daemon counted exactly the ones Graph applied.
        let batches = try await testbed.requestLog().batches
        #expect(
            batches.count <= answeredAtStopping + Self.batchesInFlight,
            "\(batches.count) batches; \(answeredAtStopping) answered at STOPPING"
        )
        #expect(batches.allSatisfy { $0.status == 200 && ($0.batchItems ?? []).allSatisfy { $0.status != 0 } })
        let appliedByGraph = batches.flatMap { $0.batchItems ?? [] }.filter { (200..<300).contains($0.status) }.count
        let (_, stopped) = try await daemon.log.first("cycle.finished")
        let applied = daemon.log.events("license.applied").count + daemon.log.events("usage_location.set").count
        #expect(
            applied == appliedByGraph,
            "the daemon logged \(applied) writes applied, Graph applied \(appliedByGraph)"
        )
        #expect(stopped.string("result") == "not_converged", "\(stopped)")
        #expect((stopped.int("not_sent") ?? 0) > 0, "\(stopped)")
        #expect(
            ["failed.adds", "failed.removals", "failed.plan_changes", "failed.usage_locations"].allSatisfy {
                stopped.int($0) == 0
            },
            "\(stopped)"
        )
        try await daemon.log.first("daemon.stopping")

        // The next run sends what was left and converges the tenant.
        try await testbed.clearFaults()
        let again = try await testbed.startDaemon(name: "daemon-again")
        defer { again.child.stop() }
        let (_, finished) = try await again.log.first("cycle.finished", timeout: .seconds(120))
        #expect(finished.string("result") == "converged", "\(finished)")
        #expect(finished.int("not_sent") == 0)
        #expect(
            (finished.int("applied.adds") ?? 0) + (finished.int("applied.removals") ?? 0) > 0,
            "the first run left nothing to do: \(finished)"
        )
        again.child.signal(SIGTERM)
        #expect(try await again.child.exitStatus(within: Self.stopTimeout) == 0)
        let plan = try ProcessRunner.run(
            TestPaths.allot.path,
            ["plan", "--config", testbed.configurationPath],
            environment: ["STATE_DIRECTORY": testbed.directory.appendingPathComponent("state").path]
        )
        #expect(plan.status == 0, "allot plan after the second run found changes:\n\(plan.output.suffix(3000))")
    }
}

extension [LoggedRequest] {
    /// The `POST /$batch` requests.
    var batches: [LoggedRequest] { filter { $0.method == "POST" && $0.path.hasSuffix("/$batch") } }
}
