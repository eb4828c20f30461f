import AllotSimulator
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `allot simulate` or `allot run` as a child process, its output in a file.
final class SoakProcess {
    private let process = Process()
    let output: URL

    /// Starts `executable`; `environment` is added to this process's own (an empty value removes the variable).
    init(_ executable: String, _ arguments: [String], output: URL, environment: [String: String] = [:]) throws {
        self.output = output
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { !$0.value.isEmpty }
        process.currentDirectoryURL = output.deletingLastPathComponent()
        process.standardInput = FileHandle.nullDevice
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// SIGTERM, then SIGKILL after five seconds, if it still runs.
    func terminate() {
        guard process.isRunning else { return }
        signal(SIGTERM)
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        signal(SIGKILL)
        process.waitUntilExit()
    }

    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw SoakError("process \(pid) did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// `http://127.0.0.1:PORT` once `allot simulate` prints its endpoints.
    func waitForSimulatorURL() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw SoakError("the simulator exited; see \(output.path)") }
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let url = SimulatorEndpoints.baseURL(fromBanner: text) { return url }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SoakError("the simulator did not start within 300 s; see \(output.path)")
    }
}

/// Follows the daemon's JSON log for `cycle.finished`.
final class DaemonCycles {
    struct Finished {
        var result: String
        var durationSeconds: Double
        var drifted: Int
    }

    private let handle: FileHandle?
    private var pending = Data()

    init(log path: String) {
        handle = FileHandle(forReadingAtPath: path)
    }

    deinit { try? handle?.close() }

    /// The next `cycle.finished`, waiting at most `timeout`.
    func next(timeout: Duration, daemon: SoakProcess) async throws -> Finished {
        let deadline = ContinuousClock.now + timeout
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending.removeSubrange(pending.startIndex...newline)
                guard let record = try? JSONSerialization.jsonObject(with: line) as? [String: Any], record["event"] as? String == "cycle.finished"
                else { continue }
                return Finished(
                    result: record["result"] as? String ?? "?", durationSeconds: record["duration_seconds"] as? Double ?? 0,
                    drifted: record["users.drifted"] as? Int ?? 0)
            }
            if let data = try handle?.readToEnd(), !data.isEmpty {
                pending.append(data)
                continue
            }
            guard ContinuousClock.now < deadline else { throw SoakError("no cycle.finished within \(timeout); see \(daemon.output.path)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
