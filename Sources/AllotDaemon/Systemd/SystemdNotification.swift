import Foundation

#if canImport(Glibc)
import CoreFoundation
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One state change or status line for the service manager, in the `sd_notify(3)` wire format.
///
/// Several notifications sent together form one datagram, so systemd sees them at once:
/// `notifier.send(.ready, .status("converged, 0 users drifted"))`.
public struct SystemdNotification: Sendable, Hashable, CustomStringConvertible {
    /// The `KEY=VALUE` lines of this notification, without the trailing newline.
    public let assignment: String

    private init(_ assignment: String) { self.assignment = assignment }

    public var description: String { assignment }

    /// `READY=1`: start-up is finished (policies loaded, status port bound), or a reload is.
    public static let ready = SystemdNotification("READY=1")

    /// `STOPPING=1`: shutdown has begun.
    public static let stopping = SystemdNotification("STOPPING=1")

    /// `WATCHDOG=1`: the daemon is alive and its loop is healthy.
    public static let watchdog = SystemdNotification("WATCHDOG=1")

    /// `RELOADING=1` with `MONOTONIC_USEC` set to now: a reload of config and policies has begun.
    ///
    /// systemd 253 and later (`Type=notify-reload`) require the timestamp; older versions
    /// ignore it, so it is always sent.
    public static var reloading: SystemdNotification {
        reloading(monotonicMicroseconds: MonotonicClockReading.nowMicroseconds())
    }

    /// `RELOADING=1` with an explicit `CLOCK_MONOTONIC` reading in microseconds.
    public static func reloading(monotonicMicroseconds: UInt64) -> SystemdNotification {
        SystemdNotification("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds)")
    }

    /// `STATUS=...`: a one-line summary shown by `systemctl status`.
    ///
    /// Line breaks and other control characters become spaces, so the line can never smuggle
    /// in another assignment.
    public static func status(_ line: String) -> SystemdNotification {
        let oneLine = String(
            String.UnicodeScalarView(
                line.unicodeScalars.map { scalar in
                    scalar.properties.generalCategory == .control ? " " : scalar
                }
            )
        )
        return SystemdNotification("STATUS=\(oneLine)")
    }
}

/// Reads `CLOCK_MONOTONIC`, the clock systemd compares `MONOTONIC_USEC` against.
enum MonotonicClockReading {
    static func nowMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
