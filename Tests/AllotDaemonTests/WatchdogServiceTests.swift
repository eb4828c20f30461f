import Foundation
import Logging
import Testing

@testable import AllotDaemon

@Suite("Watchdog")
struct WatchdogServiceTests {
    @Test("WATCHDOG=1 goes out while /healthz would answer 200, and stops when the loop has not ticked")
    func followsHealth() async throws {
        let receiver = try DatagramReceiver.atTemporaryPath(timeout: .seconds(1))
        defer { receiver.close() }
        // WATCHDOG_USEC of 0.2 s: a ping every 0.1 s.
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": receiver.notifySocket, "WATCHDOG_USEC": "200000"], logger: Logger(label: "test"))
        let policies = DaemonStatus.Policies(revision: "r", files: [], count: 0, loadedAt: Date(), lastError: nil)

        let healthy = DaemonStatus(startedAt: Date(), interval: .seconds(60), mode: "enforce", policies: policies)
        let pinging = Task { try await WatchdogService(notifier: notifier, status: healthy).run() }
        #expect(receiver.receive() == "WATCHDOG=1\n")
        pinging.cancel()
        _ = try? await pinging.value
        while receiver.receive() != nil {}  // drain what was sent before the cancel

        // Started an hour ago and never ticked since: three intervals (and 60 s) have passed.
        let stuck = DaemonStatus(startedAt: Date().addingTimeInterval(-3600), interval: .seconds(60), mode: "enforce", policies: policies)
        #expect(!stuck.health(now: Date()).ok)
        let silent = Task { try await WatchdogService(notifier: notifier, status: stuck).run() }
        #expect(receiver.receive() == nil, "no WATCHDOG=1 for a loop that has stopped ticking")
        silent.cancel()
        _ = try? await silent.value
    }
}
