import AllotTestSupport
import Foundation
import Glibc
import Testing

/// `allot run` started as systemd starts it, checked from the outside: the notification
/// socket, the signals, the log, the status endpoints, the simulator's request log.
///
/// The tests run side by side: each has its own directory, simulator, daemon and ports, and
/// each waits for events (log lines, notifications, answers), never for an amount of time.
@Suite("allot run as a process")
struct DaemonProcessTests {
    /// How long a stopped daemon may take to exit when no batch is slow (the unit's
    /// `TimeoutStopSec=` is 5 minutes).
    static let stopTimeout = Duration.seconds(30)

    @Test(
        "READY after the status port answers, WATCHDOG, STATUS after cycles, RELOADING then READY on SIGHUP, STOPPING and exit 0 on SIGTERM"
    )
    func systemdNotifications() async throws {
        let testbed = try await Testbed("lifecycle", users: 300, seed: 11)
        try testbed.configure(interval: "2s")
        let systemd = try NotificationRecorder(statusPort: testbed.statusPort)
        defer { systemd.stop() }

        let daemon = try await testbed.startDaemon(
            systemd: ["NOTIFY_SOCKET": systemd.notifySocket, "WATCHDOG_USEC": "2000000"],
            watchdogPID: true
        )
        defer { daemon.child.stop() }

        let (readyIndex, ready) = try await systemd.first("READY=1") { $0.has("READY=1") }
        #expect(ready.statusPortAnswered == true, "READY=1 came before the status port answered")
        #expect(ready.value("STATUS")?.isEmpty == false, "READY=1 carries a STATUS= line: \(ready.lines)")

        // WATCHDOG_USEC is 2 s: a ping every second while the loop is healthy.
        let (firstPing, _) = try await systemd.first(from: readyIndex, "WATCHDOG=1") { $0.has("WATCHDOG=1") }
        let (secondPing, _) = try await systemd.first(from: firstPing + 1, "a second WATCHDOG=1") {
            $0.has("WATCHDOG=1")
        }
        try await systemd.first(from: secondPing + 1, "a third WATCHDOG=1") { $0.has("WATCHDOG=1") }

        // A STATUS= summary after each cycle.
        let (firstStatus, summary) = try await systemd.first(from: readyIndex + 1, "STATUS= after a cycle") {
            $0.value("STATUS")?.hasPrefix("last cycle") == true
        }
        #expect(summary.value("STATUS")?.contains("users read") == true, "\(summary.lines)")
        try await systemd.first(from: firstStatus + 1, "STATUS= after a second cycle") {
            $0.value("STATUS")?.hasPrefix("last cycle") == true
        }

        // SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC is system-wide), then READY=1.
        let beforeSignal = monotonicMicroseconds()
        let sentAt = systemd.all.count
        daemon.child.signal(SIGHUP)
        let (reloadingIndex, reloading) = try await systemd.first(from: sentAt, "RELOADING=1") { $0.has("RELOADING=1") }
        let afterReloading = monotonicMicroseconds()
        let stamp = try #require(
            reloading.value("MONOTONIC_USEC").flatMap(UInt64.init),
            "RELOADING=1 without MONOTONIC_USEC: \(reloading.lines)"
        )
        #expect(
            (beforeSignal...afterReloading).contains(stamp),
            "MONOTONIC_USEC \(stamp) is not between \(beforeSignal) and \(afterReloading)"
        )
        try await systemd.first(from: reloadingIndex + 1, "READY=1 after the reload") { $0.has("READY=1") }
        try await daemon.log.first("daemon.reloading")

        // SIGTERM: STOPPING=1, then exit 0.
        let stopAt = systemd.all.count
        daemon.child.signal(SIGTERM)
        try await systemd.first(from: stopAt, "STOPPING=1") { $0.has("STOPPING=1") }
        #expect(
            try await daemon.child.exitStatus(within: Self.stopTimeout) == 0,
            "\(daemon.child.standardError.suffix(2000))"
        )
        try await daemon.log.first("daemon.stopping")
        #expect(!systemd.all.contains { $0.has("READY=1") && $0.statusPortAnswered == false })
    }
}
