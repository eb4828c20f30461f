import Foundation

/// Follows the daemon's JSON log for `cycle.finished`.
final class DaemonCycles {
    struct Finished {
        var result: String
        var durationSeconds: Double
        var drifted: Int
    }

    private let path: String
    private let handle: FileHandle?
    private var pending = Data()

    init(log path: String) {
        self.path = path
        handle = FileHandle(forReadingAtPath: path)
    }

    deinit { try? handle?.close() }

    /// The next `cycle.finished`, waiting at most `timeout`, and calling `idle` every quarter
    /// of a second meanwhile.
    func next(timeout: Duration, whileWaiting idle: () async throws -> Void = {}) async throws -> Finished {
        let deadline = ContinuousClock.now + timeout
        var nextIdle = ContinuousClock.now
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending.removeSubrange(pending.startIndex...newline)
                guard let record = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                    record["event"] as? String == "cycle.finished"
                else { continue }
                return Finished(
                    result: record["result"] as? String ?? "?",
                    durationSeconds: record["duration_seconds"] as? Double ?? 0,
                    drifted: record["users.drifted"] as? Int ?? 0
                )
            }
            if let data = try handle?.readToEnd(), !data.isEmpty {
                pending.append(data)
                continue
            }
            guard ContinuousClock.now < deadline else {
                throw SoakError("no cycle.finished within \(timeout); see \(path)")
            }
            if ContinuousClock.now >= nextIdle {
                try await idle()
                nextIdle = ContinuousClock.now + .milliseconds(250)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
