import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the test processes come from: the `allot` executable the test target depends on, and
/// the repository (for the sample policies).
enum TestPaths {
    /// The repository root, found from this file's path.
    static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The sample policies (`policies/`).
    static var samplePolicies: URL { repository.appendingPathComponent("policies") }

    /// The built `allot`: `$ALLOT_EXECUTABLE`, else next to the test bundle (`swift test`
    /// builds it, the test target depends on it), else `.build/debug/allot`.
    static let allot: URL = {
        if let explicit = ProcessInfo.processInfo.environment["ALLOT_EXECUTABLE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        var candidates: [URL] = []
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("allot"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(repository.appendingPathComponent(".build/debug/allot"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()
}

/// A child process whose output goes to files, with bounded waits. It is killed (SIGKILL) when
/// released or stopped, so that a failing test never leaves a process behind.
final class ChildProcess {
    let name: String
    let standardOutputPath: String
    let standardErrorPath: String
    private let process = Process()

    /// Starts `executable` with `arguments`; output goes to `NAME.stdout` / `NAME.stderr` in `directory`.
    init(_ name: String, executable: URL, arguments: [String], environment: [String: String] = [:], directory: String) throws {
        self.name = name
        standardOutputPath = "\(directory)/\(name).stdout"
        standardErrorPath = "\(directory)/\(name).stderr"
        _ = FileManager.default.createFile(atPath: standardOutputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: standardErrorPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: standardOutputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: standardErrorPath))
        try process.run()
    }

    deinit { stop() }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }

    /// Sends a signal (SIGKILL, SIGTERM) if the process still runs.
    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Kills the process if it still runs and reaps it.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for the process to exit, at most `timeout`; past it, kills it and throws.
    func exitStatus(within timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                stop()
                throw TestFailure("\(name) did not exit within \(timeout); killed it. stderr: \(standardError.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

/// Waits until `condition` holds, checking every `interval`, at most `timeout`.
func waitUntil(
    _ what: @autoclosure () -> String, timeout: Duration, interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out after \(timeout) waiting for \(what())") }
        try await Task.sleep(for: interval)
    }
}

/// A failure in the test harness itself (a process that did not start, a timeout).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
