import AllotSimulator
import Foundation
import CoreFoundation
import Glibc

/// Where the process tests' executables and files come from.
public enum TestPaths {
    /// The repository root, found from this file's path.
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The sample policies (`policies/`).
    public static var samplePolicies: URL { repository.appendingPathComponent("policies") }

    /// The built `allot`: `$ALLOT_EXECUTABLE`, else next to the test bundle (the test targets
    /// depend on `allot`, so `swift test` builds it), else `.build/debug/allot`.
    public static let allot: URL = {
        if let explicit = ProcessInfo.processInfo.environment["ALLOT_EXECUTABLE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        var candidates: [URL] = []
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("allot"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(repository.appendingPathComponent(".build/debug/allot"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()
}

/// A child process whose standard output and error go to files in a test's directory.
///
/// Every wait is bounded; ``stop()`` (also run on release) kills what still runs, so a failing
/// test leaves no process behind.
public final class ChildProcess {
    public let name: String
    public let standardOutputPath: String
    public let standardErrorPath: String
    private let process = Process()

    /// Starts `executable` in `directory`; `environment` is added to this process's own (an
    /// empty value removes the variable).
    public init(
        _ name: String,
        executable: URL = TestPaths.allot,
        arguments: [String],
        environment: [String: String] = [:],
        directory: URL
    ) throws {
        self.name = name
        standardOutputPath = directory.appendingPathComponent("\(name).stdout").path
        standardErrorPath = directory.appendingPathComponent("\(name).stderr").path
        _ = FileManager.default.createFile(atPath: standardOutputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: standardErrorPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter {
            !$0.value.isEmpty
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: standardOutputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: standardErrorPath))
        try process.run()
    }

    deinit { stop() }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    public var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }

    /// Sends `number` (SIGHUP, SIGTERM) while the process runs.
    public func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Kills the process (SIGKILL) if it still runs, and reaps it.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The exit status, waiting at most `timeout`; past it the process is killed and this throws.
    public func exitStatus(within timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                stop()
                throw HarnessError(
                    "\(name) did not exit within \(timeout); killed it. stderr: \(standardError.suffix(2000))"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

/// Waits until `condition` holds, checking every `interval`, for at most `timeout`.
public func waitUntil(
    _ what: @autoclosure () -> String,
    timeout: Duration,
    interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            throw HarnessError("timed out after \(timeout) waiting for \(what())")
        }
        try await Task.sleep(for: interval)
    }
}

/// A failure of the harness itself: a process that would not start, a wait that ran out.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The current `CLOCK_MONOTONIC` reading in microseconds, the clock of `MONOTONIC_USEC`.
public func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}

/// Whether something accepts TCP connections on `127.0.0.1:port` now.
public func acceptsConnections(port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = loopbackAddress(port: port)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    } == 0
}

/// A loopback port nobody listens on now (bound to port 0, read back, released).
public func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw HarnessError("bind(): \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// The base URL (`http://127.0.0.1:PORT`) of `allot simulate` running as `simulator`, once its
/// banner is out; throws when it exits first or `timeout` passes.
public func simulatorBaseURL(_ simulator: ChildProcess, timeout: Duration) async throws -> String {
    var url: String?
    try await waitUntil(
        "the simulator to listen (\(simulator.standardOutputPath))",
        timeout: timeout,
        interval: .milliseconds(50)
    ) {
        guard simulator.isRunning else {
            throw HarnessError("the simulator exited: \(simulator.standardError.suffix(2000))")
        }
        url = SimulatorEndpoints.baseURL(fromBanner: simulator.standardOutput)
        return url != nil
    }
    return url!
}
