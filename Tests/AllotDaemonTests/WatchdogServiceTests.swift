import Foundation
import Logging
import Testing

@testable import AllotDaemon

@Suite("Watchdog")
struct WatchdogServiceTests {
    @Test("WATCHDOG=1 goes out while /healthz would answer 200, and stops when the loop has not ticked")
    func followsHealth() async throws {
        let policies = DaemonStatus.Policies(revision: "r", files: [], count: 0, loadedAt: Date(), lastError: nil)

        // WATCHDOG_USEC of 0.2 s: a ping every 0.1 s while healthy.
        let healthyReceiver = try DatagramReceiver.atTemporaryPath(timeout: .milliseconds(50))
        defer { healthyReceiver.close() }
        let healthy = DaemonStatus(startedAt: Date(), interval: .seconds(60), mode: "enforce", policies: policies)
        let pinging = Task { try await WatchdogService(notifier: Self.notifier(healthyReceiver), status: healthy).run() }
        #expect(await Self.datagram(from: healthyReceiver, within: .seconds(20)) == "WATCHDOG=1\n")
        pinging.cancel()
        _ = try? await pinging.value

        // Started an hour ago and never ticked since: three intervals (and 60 s) have passed.
        let stuckReceiver = try DatagramReceiver.atTemporaryPath(timeout: .milliseconds(50))
        defer { stuckReceiver.close() }
        let stuck = DaemonStatus(startedAt: Date().addingTimeInterval(-3600), interval: .seconds(60), mode: "enforce", policies: policies)
        #expect(!stuck.health(now: Date()).ok)
        let silent = Task { try await WatchdogService(notifier: Self.notifier(stuckReceiver), status: stuck).run() }
        #expect(await Self.datagram(from: stuckReceiver, within: .seconds(1)) == nil, "no WATCHDOG=1 for a loop that has stopped ticking")
        silent.cancel()
        _ = try? await silent.value
    }

    /// The next datagram within `within`, polling in short waits: a blocking receive would hold
    /// one of the few threads the watchdog task itself needs to run.
    static func datagram(from receiver: DatagramReceiver, within: Duration) async -> String? {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if let datagram = receiver.receive() { return datagram }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    static func notifier(_ receiver: DatagramReceiver) -> SystemdNotifier {
        SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket, "WATCHDOG_USEC": "200000"], logger: Logger(label: "test"))
    }
}
