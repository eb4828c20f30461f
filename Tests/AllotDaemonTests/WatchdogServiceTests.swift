import AllotTestSupport
import Foundation
import Logging
import Testing

@testable import AllotDaemon

@Suite("Watchdog")
struct WatchdogServiceTests {
    static let policies = DaemonStatus.Policies(revision: "r", files: [], count: 0, loadedAt: Date(), lastError: nil)

    @Test("a beat sends WATCHDOG=1 while /healthz would answer 200, and nothing once the loop has not ticked")
    func beatFollowsHealth() throws {
        let receiver = try DatagramReceiver.atTemporaryPath(timeout: .milliseconds(50))
        defer { receiver.close() }
        let service = WatchdogService(
            notifier: Self.notifier(receiver),
            status: DaemonStatus(
                startedAt: Date(),
                interval: .seconds(60),
                mode: "enforce",
                policies: Self.policies
            )
        )

        // The send is synchronous: when the beat returns, the datagram is in the socket.
        #expect(service.pingIfHealthy(now: Date()))
        #expect(receiver.receive() == "WATCHDOG=1\n")

        // Three intervals (and 60 s) without a tick: /healthz answers 503, and the beat is silent.
        let later = Date().addingTimeInterval(3600)
        #expect(!service.status.health(now: later).ok)
        #expect(!service.pingIfHealthy(now: later))
        #expect(receiver.receive() == nil, "no WATCHDOG=1 for a loop that has stopped ticking")
    }

    @Test("the service beats at half WATCHDOG_USEC until it is cancelled")
    func serviceBeats() async throws {
        let receiver = try DatagramReceiver.atTemporaryPath(timeout: .milliseconds(50))
        defer { receiver.close() }
        let status = DaemonStatus(startedAt: Date(), interval: .seconds(60), mode: "enforce", policies: Self.policies)
        let pinging = Task { try await WatchdogService(notifier: Self.notifier(receiver), status: status).run() }
        // Two beats arrive; the bound only stops a hung test (a loaded machine may be slow to run the task).
        #expect(await Self.datagram(from: receiver, within: .seconds(120)) == "WATCHDOG=1\n")
        #expect(await Self.datagram(from: receiver, within: .seconds(120)) == "WATCHDOG=1\n")
        pinging.cancel()
        _ = try? await pinging.value
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
        SystemdNotifier(
            environment: ["NOTIFY_SOCKET": receiver.notifySocket, "WATCHDOG_USEC": "200000"],
            logger: Logger(label: "test")
        )
    }
}
