import Logging

import Foundation

#if canImport(Glibc)
import CoreFoundation
import Glibc
private let datagramSocketType = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
private let sendFlags = Int32(MSG_NOSIGNAL)
#elseif canImport(Musl)
import Musl
private let datagramSocketType = SOCK_DGRAM | SOCK_CLOEXEC
private let sendFlags = MSG_NOSIGNAL
#elseif canImport(Darwin)
import Darwin
private let datagramSocketType = SOCK_DGRAM
private let sendFlags: Int32 = 0
#endif

/// Tells systemd about the daemon's state over the `sd_notify(3)` protocol.
///
/// systemd passes the address of its notification socket in `NOTIFY_SOCKET` (a file system path,
/// or an abstract socket name when it starts with `@`) and, with `WatchdogSec=`, the watchdog
/// timeout in `WATCHDOG_USEC`. Each ``send(_:)`` writes one `AF_UNIX` datagram. Without
/// `NOTIFY_SOCKET` (run by hand, in a container, in tests) every call is a no-op.
///
/// Failures are logged and never thrown: a daemon must not stop because systemd did not listen.
public struct SystemdNotifier: Sendable {
    /// Where notifications go.
    public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
        /// A socket in the file system.
        case path(String)
        /// A Linux abstract socket, named without the leading `@`.
        case abstract(String)

        public var description: String {
            switch self {
            case .path(let path): path
            case .abstract(let name): "@" + name
            }
        }
    }

    /// The notification socket, or `nil` when notifications are off.
    public let socketAddress: SocketAddress?

    /// The watchdog timeout systemd enforces on this process, or `nil` when there is none.
    public let watchdogTimeout: Duration?

    private let logger: Logger

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    ///
    /// - Parameters:
    ///   - environment: The process environment, or a test's stand-in for it.
    ///   - processID: This process's id; a `WATCHDOG_PID` naming another process disables the watchdog.
    ///   - logger: Receives a warning for each unusable variable and each failed send.
    public init(environment: [String: String], processID: Int32 = getpid(), logger: Logger) {
        self.logger = logger
        self.socketAddress = Self.parseSocketAddress(environment["NOTIFY_SOCKET"], logger: logger)
        self.watchdogTimeout =
            socketAddress == nil
            ? nil
            : Self.parseWatchdogTimeout(
                microseconds: environment["WATCHDOG_USEC"],
                pid: environment["WATCHDOG_PID"],
                processID: processID,
                logger: logger
            )
    }

    /// Whether notifications reach a service manager.
    public var isEnabled: Bool { socketAddress != nil }

    /// How often to send ``SystemdNotification/watchdog``: half the timeout, as `sd_watchdog_enabled(3)`
    /// recommends, or `nil` when systemd expects no pings.
    public var watchdogInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// Sends the notifications in one datagram.
    ///
    /// - Returns: `true` when the datagram was handed to the socket, `false` when notifications
    ///   are off or the send failed (the failure is logged).
    @discardableResult
    public func send(_ notifications: SystemdNotification...) -> Bool {
        send(notifications)
    }

    /// Sends the notifications in one datagram, like the variadic form.
    @discardableResult
    public func send(_ notifications: [SystemdNotification]) -> Bool {
        guard let socketAddress, !notifications.isEmpty else { return false }
        let message = notifications.map(\.assignment).joined(separator: "\n") + "\n"
        if let failure = Self.deliver(message, to: socketAddress) {
            logger.warning(
                "Could not notify systemd; the service state systemd shows may be stale.",
                metadata: [
                    "notify.socket": "\(socketAddress)",
                    "notify.message": "\(notifications.map(\.assignment).joined(separator: " "))",
                    "error": "\(failure)",
                ]
            )
            return false
        }
        return true
    }

    // MARK: Environment

    private static func parseSocketAddress(_ value: String?, logger: Logger) -> SocketAddress? {
        guard let value, !value.isEmpty else { return nil }
        let address: SocketAddress
        let length: Int
        if value.hasPrefix("@") {
            address = .abstract(String(value.dropFirst()))
            length = value.utf8.count  // a leading NUL byte, then the name
        } else if value.hasPrefix("/") {
            address = .path(value)
            length = value.utf8.count + 1  // the path, then a terminating NUL byte
        } else {
            logger.warning(
                "NOTIFY_SOCKET is neither an absolute path nor an abstract socket name; systemd notifications are off.",
                metadata: ["notify.socket": "\(value)"]
            )
            return nil
        }
        guard length <= MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            logger.warning(
                "NOTIFY_SOCKET is longer than a Unix socket address allows; systemd notifications are off.",
                metadata: ["notify.socket": "\(value)"]
            )
            return nil
        }
        return address
    }

    private static func parseWatchdogTimeout(
        microseconds: String?,
        pid: String?,
        processID: Int32,
        logger: Logger
    ) -> Duration? {
        guard let microseconds else { return nil }
        if let pid, Int32(pid) != processID {
            logger.debug(
                "WATCHDOG_PID names another process; the watchdog is not ours.",
                metadata: ["watchdog.pid": "\(pid)"]
            )
            return nil
        }
        guard let value = UInt64(microseconds), value > 0, value <= UInt64(Int64.max) else {
            logger.warning(
                "WATCHDOG_USEC is not a positive number of microseconds; the watchdog is off, and systemd may restart the service.",
                metadata: ["watchdog.usec": "\(microseconds)"]
            )
            return nil
        }
        return .microseconds(Int64(value))
    }

    // MARK: Socket

    /// Sends one datagram; returns what went wrong, or `nil` on success.
    private static func deliver(_ message: String, to address: SocketAddress) -> String? {
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let addressLength: Int = withUnsafeMutableBytes(of: &socketAddress.sun_path) { sunPath in
            switch address {
            case .path(let path):
                sunPath.copyBytes(from: path.utf8)  // zero-filled, so the path ends in NUL
                return path.utf8.count + 1
            case .abstract(let name):
                UnsafeMutableRawBufferPointer(rebasing: sunPath.dropFirst()).copyBytes(from: name.utf8)
                return 1 + name.utf8.count
            }
        }
        let descriptor = socket(AF_UNIX, datagramSocketType, 0)
        guard descriptor >= 0 else { return "socket(): \(errnoDescription())" }
        defer { close(descriptor) }

        // Bound the wait when systemd's queue is full; sd_notify itself would block forever.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let sent = message.utf8CString.withUnsafeBytes { bytes in
            withUnsafePointer(to: socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                    sendto(
                        descriptor,
                        bytes.baseAddress,
                        bytes.count - 1,
                        sendFlags,
                        sockaddrPointer,
                        socklen_t(pathOffset + addressLength)
                    )
                }
            }
        }
        if sent < 0 { return "sendto(): \(errnoDescription())" }
        if sent != message.utf8.count { return "sendto(): sent \(sent) of \(message.utf8.count) bytes" }
        return nil
    }

    private static func errnoDescription() -> String {
        String(cString: strerror(errno))
    }
}
