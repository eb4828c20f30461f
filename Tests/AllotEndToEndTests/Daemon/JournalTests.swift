import AllotTestSupport
import Foundation
import Testing

/// Under systemd both standard streams are the journal's, and `JOURNAL_STREAM` names their
/// device and inode. These tests make standard output the same file as standard error and set
/// `JOURNAL_STREAM` to that file's real `DEVICE:INODE`, as systemd would, through a shell.
extension DaemonProcessTests {
    /// Runs `allot ARGUMENTS` with standard output on standard error's file and `JOURNAL_STREAM`
    /// set to that file's device and inode (or to `journalStream` when given); waits for the exit.
    static func allotOnJournal(
        _ arguments: [String],
        journalStream: String? = nil,
        in directory: URL
    ) async throws -> (status: Int32, lines: [String]) {
        let stream = journalStream.map { "'\($0)'" } ?? "$(stat -L -c %d:%i /proc/self/fd/2)"
        let child = try ChildProcess(
            "journal",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", #"exec 1>&2; JOURNAL_STREAM=\#(stream) exec "$0" "$@""#, TestPaths.allot.path]
                + arguments,
            environment: ["STATE_DIRECTORY": directory.appendingPathComponent("state").path],
            directory: directory
        )
        let status = try await child.exitStatus(within: .seconds(60))
        return (status, child.standardError.split(separator: "\n").map(String.init))
    }

    /// The JSON object after a line's `<N>` prefix.
    static func journalRecord(_ line: String) -> [String: Any]? {
        guard let close = line.firstIndex(of: ">"), line.hasPrefix("<") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line[line.index(after: close)...].utf8)) as? [String: Any]
    }

    @Test(
        "journal: an invalid configuration at start is a daemon.failed JSON event at priority <2>, with every problem"
    )
    func invalidConfigurationOnJournal() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-journal-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("policies"),
            withIntermediateDirectories: true
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try "tenant: not-a-guid\npolicies: ./policies\n".write(
            to: directory.appendingPathComponent("allot.yaml"),
            atomically: true,
            encoding: .utf8
        )
        let configuration = directory.appendingPathComponent("allot.yaml").path

        let result = try await Self.allotOnJournal(["run", "--config", configuration], in: directory)
        #expect(result.status == 1)
        let line = try #require(result.lines.first { $0.contains("daemon.failed") }, "\(result.lines)")
        #expect(line.hasPrefix("<2>{"), "\(line)")
        let record = try #require(Self.journalRecord(line))
        #expect(record["event"] as? String == "daemon.failed" && record["level"] as? String == "critical")
        let errors = try #require(record["errors"] as? [String])
        #expect(errors.contains { $0.hasPrefix(configuration + ":1:") && $0.contains("tenant") }, "\(errors)")
        #expect(result.lines.allSatisfy { $0.hasPrefix("<") }, "every line carries a priority: \(result.lines)")

        // The variable inherited by a stream that is not the journal's: no prefix.
        let redirected = try await Self.allotOnJournal(
            ["run", "--config", configuration],
            journalStream: "1:1",
            in: directory
        )
        #expect(redirected.status == 1)
        #expect(redirected.lines.contains { $0.hasPrefix("{") && $0.contains("daemon.failed") }, "\(redirected.lines)")
    }

    @Test("journal: info at <6>; a status port in use is a daemon.failed JSON event at <2> naming the error")
    func portInUseOnJournal() async throws {
        let testbed = try await Testbed("journal-port", users: 20, seed: 22)
        try testbed.configure(interval: "1h")
        // The simulator already listens on its port: the status server cannot bind it.
        let simulatorAddress = String(testbed.simulatorURL.dropFirst("http://".count))
        let yaml = try String(contentsOfFile: testbed.configurationPath, encoding: .utf8)
            .replacingOccurrences(of: "listen: 127.0.0.1:\(testbed.statusPort)", with: "listen: \(simulatorAddress)")
        try yaml.write(toFile: testbed.configurationPath, atomically: true, encoding: .utf8)

        let result = try await Self.allotOnJournal(
            ["run", "--config", testbed.configurationPath],
            in: testbed.directory
        )
        #expect(result.status == 1)
        let loaded = try #require(result.lines.first { $0.contains("\"policy.loaded\"") }, "\(result.lines)")
        #expect(loaded.hasPrefix("<6>{"))
        let failed = try #require(result.lines.first { $0.contains("daemon.failed") }, "\(result.lines)")
        #expect(failed.hasPrefix("<2>{"), "\(failed)")
        let record = try #require(Self.journalRecord(failed))
        #expect((record["error"] as? String)?.contains("in use") == true, "\(record)")

        // --log-level overrides `logging.level: info`.
        let quiet = try await Self.allotOnJournal(
            ["run", "--config", testbed.configurationPath, "--log-level", "error"],
            in: testbed.directory
        )
        #expect(quiet.status == 1)
        #expect(!quiet.lines.contains { $0.hasPrefix("<6>") }, "\(quiet.lines)")
        #expect(quiet.lines.contains { $0.hasPrefix("<2>") && $0.contains("daemon.failed") })
    }
}
