import CoreFoundation
import Foundation

import Glibc

private let datagramSocketType = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

/// A test-owned `AF_UNIX` datagram socket standing in for systemd's notification socket.
///
/// Bound to a file system path (removed again on ``close()``) or to an abstract name. Every
/// receive waits at most `timeout`, so a message that never comes fails the test instead of
/// hanging it.
public final class DatagramReceiver: Sendable {
    /// The value to put in `NOTIFY_SOCKET`.
    public let notifySocket: String
    private let descriptor: Int32
    private let boundPath: String?
    private let timeout: Duration

    /// Binds a socket at a fresh path in the temporary directory.
    public static func atTemporaryPath(timeout: Duration = .seconds(5)) throws -> DatagramReceiver {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("allot-notify-\(UUID().uuidString.prefix(8)).sock").path
        return try DatagramReceiver(notifySocket: path, timeout: timeout)
    }

    /// Binds a socket to a fresh abstract name.
    public static func atAbstractName() throws -> DatagramReceiver {
        try DatagramReceiver(notifySocket: "@allot-notify-test-\(UUID().uuidString)")
    }

    private init(notifySocket: String, timeout: Duration = .seconds(5)) throws {
        self.notifySocket = notifySocket
        self.timeout = timeout
        self.boundPath = notifySocket.hasPrefix("@") ? nil : notifySocket
        descriptor = socket(AF_UNIX, datagramSocketType, 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let nameBytes = Array(notifySocket.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            if notifySocket.hasPrefix("@") {
                // An abstract name: a leading NUL byte instead of the `@`.
                UnsafeMutableRawBufferPointer(rebasing: sunPath.dropFirst()).copyBytes(from: nameBytes.dropFirst())
            } else {
                sunPath.copyBytes(from: nameBytes)
            }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + nameBytes.count + (boundPath == nil ? 0 : 1)
        let bound = withUnsafePointer(to: address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            let failure = errno
            Glibc.close(descriptor)
            throw POSIXError(.init(rawValue: failure) ?? .EIO)
        }

        let (seconds, attoseconds) = timeout.components
        var receiveTimeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram as text, or `nil` when none arrived within the timeout. A signal
    /// (SIGCHLD from the test's child processes) does not cut the wait short.
    public func receive() -> String? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return String(decoding: buffer[..<count], as: UTF8.self) }
            guard errno == EINTR, ContinuousClock.now < deadline else { return nil }
        }
    }

    public func close() {
        Glibc.close(descriptor)
        if let boundPath { unlink(boundPath) }
    }
}
