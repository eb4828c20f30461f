import AllotTestSupport
import AllotDaemon
import Foundation
import InMemoryLogging
import Logging
import Testing

@Suite("SystemdNotifier")
struct SystemdNotifierTests {
    private static func makeLogger() -> (Logger, InMemoryLogHandler) {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        return (Logger(label: "test") { _ in handler }, handler)
    }

    @Test("every message reaches the socket", arguments: [false, true])
    func deliversEachMessage(abstract: Bool) throws {
        let receiver = try abstract ? DatagramReceiver.atAbstractName() : DatagramReceiver.atTemporaryPath()
        defer { receiver.close() }
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket], logger: logger)

        #expect(notifier.isEnabled)
        #expect(notifier.socketAddress?.description == receiver.notifySocket)

        #expect(notifier.send(.ready))
        #expect(receiver.receive() == "READY=1\n")
        #expect(notifier.send(.watchdog))
        #expect(receiver.receive() == "WATCHDOG=1\n")
        #expect(notifier.send(.status("converged: 0 users drifted")))
        #expect(receiver.receive() == "STATUS=converged: 0 users drifted\n")
        #expect(notifier.send(.stopping))
        #expect(receiver.receive() == "STOPPING=1\n")
        #expect(notifier.send(.reloading(monotonicMicroseconds: 123_456_789)))
        #expect(receiver.receive() == "RELOADING=1\nMONOTONIC_USEC=123456789\n")
        #expect(notifier.send(.ready, .status("reloaded")))
        #expect(receiver.receive() == "READY=1\nSTATUS=reloaded\n")
        #expect(logs.entries.isEmpty)
    }

    @Test("RELOADING carries the current CLOCK_MONOTONIC time in microseconds")
    func reloadingReadsTheMonotonicClock() throws {
        let receiver = try DatagramReceiver.atTemporaryPath()
        defer { receiver.close() }
        let (logger, _) = Self.makeLogger()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket], logger: logger)

        let before = monotonicMicroseconds()
        #expect(notifier.send(.reloading))
        let after = monotonicMicroseconds()

        let lines = try #require(receiver.receive()).split(separator: "\n")
        #expect(lines.first == "RELOADING=1")
        let stamp = try #require(lines.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
        #expect(lines.last?.hasPrefix("MONOTONIC_USEC=") == true)
        #expect((before...after).contains(stamp))
    }

    @Test("a status line cannot carry a second assignment")
    func statusIsOneLine() {
        #expect(SystemdNotification.status("3 failed\nREADY=1\r\tok").assignment == "STATUS=3 failed READY=1  ok")
    }

    @Test("without NOTIFY_SOCKET nothing is sent and there is no watchdog")
    func unsetSocketIsANoOp() {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"], logger: logger)

        #expect(!notifier.isEnabled)
        #expect(notifier.socketAddress == nil)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.send(.ready))
        #expect(logs.entries.isEmpty)
    }

    @Test("an empty NOTIFY_SOCKET is the same as none")
    func emptySocketIsANoOp() {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": ""], logger: logger)
        #expect(!notifier.isEnabled)
        #expect(logs.entries.isEmpty)
    }

    @Test(
        "an unusable NOTIFY_SOCKET turns notifications off with a warning",
        arguments: [
            "run/systemd/notify",
            "vsock:2:1234",
            "/" + String(repeating: "a", count: 120),
            "@" + String(repeating: "b", count: 120),
        ]
    )
    func unusableSocketIsReported(value: String) {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": value], logger: logger)

        #expect(!notifier.isEnabled)
        #expect(!notifier.send(.ready))
        let warning = logs.entries.first { $0.level == .warning }
        #expect(warning?.metadata["notify.socket"] == .string(value))
        #expect(warning?.message.description.contains("notifications are off") == true)
    }

    @Test("a socket nobody listens on fails the send with a warning, not a crash")
    func failedSendIsLogged() {
        let (logger, logs) = Self.makeLogger()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-absent-\(UUID().uuidString).sock"
        ).path
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path], logger: logger)

        #expect(notifier.isEnabled)
        #expect(!notifier.send(.stopping))
        let warning = logs.entries.first { $0.level == .warning }
        #expect(warning?.metadata["notify.message"] == "STOPPING=1")
        #expect(warning?.metadata["error"]?.description.hasPrefix("sendto(): ") == true)
    }

    @Test("the watchdog pings at half of WATCHDOG_USEC")
    func watchdogInterval() {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": "@allot-unused", "WATCHDOG_USEC": "120000000"],
            logger: logger
        )
        #expect(notifier.watchdogTimeout == .seconds(120))
        #expect(notifier.watchdogInterval == .seconds(60))
        #expect(logs.entries.isEmpty)
    }

    @Test(
        "WATCHDOG_PID keeps the watchdog only when it names this process",
        arguments: [
            ("4242", Duration?.some(.milliseconds(2500))),
            ("1", nil),
            ("not-a-pid", nil),
        ]
    )
    func watchdogPID(pid: String, expectedInterval: Duration?) {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": "@allot-unused", "WATCHDOG_USEC": "5000000", "WATCHDOG_PID": pid],
            processID: 4242,
            logger: logger
        )
        #expect(notifier.isEnabled)
        #expect(notifier.watchdogInterval == expectedInterval)
        #expect(!logs.entries.contains { $0.level >= .warning })
    }

    @Test(
        "an unreadable WATCHDOG_USEC disables the watchdog with a warning",
        arguments: ["0", "-5", "soon", "", "18446744073709551615"]
    )
    func invalidWatchdogTimeout(value: String) {
        let (logger, logs) = Self.makeLogger()
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": "@allot-unused", "WATCHDOG_USEC": value],
            logger: logger
        )

        #expect(notifier.watchdogInterval == nil)
        let warning = logs.entries.first { $0.level == .warning }
        #expect(warning?.metadata["watchdog.usec"] == .string(value))
    }
}
