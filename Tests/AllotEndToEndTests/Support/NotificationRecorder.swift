import AllotTestSupport
import Foundation
import Synchronization

/// Stands in for systemd: owns the `NOTIFY_SOCKET` datagram socket and records, on a thread of
/// its own, every notification the daemon sends, in order, with the time it arrived.
final class NotificationRecorder: Sendable {
    /// One datagram.
    struct Notification: Sendable {
        /// The `KEY=VALUE` lines.
        let lines: [String]
        let receivedAt: ContinuousClock.Instant
        /// For a datagram with `READY=1`: whether the status port accepted connections when it
        /// arrived (read before anything else runs).
        let statusPortAnswered: Bool?

        func has(_ line: String) -> Bool { lines.contains(line) }

        /// The value of `KEY=` in this datagram.
        func value(_ key: String) -> String? {
            lines.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
    }

    /// The value for `NOTIFY_SOCKET`.
    let notifySocket: String
    private let received = Mutex<[Notification]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    /// - Parameter statusPort: the port whose state is recorded with each `READY=1`.
    init(statusPort: Int) throws {
        let receiver = try DatagramReceiver.atTemporaryPath(timeout: .milliseconds(100))
        notifySocket = receiver.notifySocket
        Thread.detachNewThread { [self] in
            while !stopping.load(ordering: .acquiring) {
                guard let datagram = receiver.receive() else { continue }
                let lines = datagram.split(separator: "\n").map(String.init)
                let answered = lines.contains("READY=1") ? acceptsConnections(port: statusPort) : nil
                let notification = Notification(lines: lines, receivedAt: .now, statusPortAnswered: answered)
                received.withLock { $0.append(notification) }
            }
            receiver.close()
            finished.store(true, ordering: .releasing)
        }
    }

    /// Everything received so far.
    var all: [Notification] { received.withLock { $0 } }

    /// The first notification from position `start` on that satisfies `matches`, waiting at most `timeout`.
    @discardableResult
    func first(
        from start: Int = 0,
        timeout: Duration = .seconds(30),
        _ what: String,
        where matches: (Notification) -> Bool
    ) async throws -> (index: Int, notification: Notification) {
        var found: (Int, Notification)?
        try await waitUntil(
            "the notification \(what); got: \(all.map { $0.lines.joined(separator: " ") })",
            timeout: timeout
        ) {
            let all = self.all
            guard start < all.count, let index = all[start...].firstIndex(where: matches) else { return false }
            found = (index, all[index])
            return true
        }
        return found!
    }

    /// Stops the receiving thread and closes the socket.
    func stop() {
        stopping.store(true, ordering: .releasing)
        while !finished.load(ordering: .acquiring) { usleep(10_000) }
    }
}
