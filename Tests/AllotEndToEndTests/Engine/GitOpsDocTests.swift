import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// docs/gitops.md's "Try it locally" commands, run as written by the built `allot` in a git
/// repository holding a configuration, policies and a snapshot, with a policy change checked out
/// against `main`.
@Suite("GitOps: docs/gitops.md's commands")
struct GitOpsDocTests {
    /// The commands between the doc's test markers, one per line.
    static func documentedCommands() throws -> [String] {
        let doc = try String(contentsOf: TestPaths.repository.appendingPathComponent("docs/gitops.md"), encoding: .utf8)
        let begin = try #require(doc.range(of: "<!-- gitops-doc-test:begin -->"))
        let end = try #require(doc.range(of: "<!-- gitops-doc-test:end -->"))
        return doc[begin.upperBound..<end.lowerBound].split(separator: "\n").map(String.init).filter {
            $0.hasPrefix("allot ")
        }
    }

    /// A repository whose `main` has the sample policies, with `engineering.yaml` deleted on the
    /// checked-out branch (the change under review).
    static func repository() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-gitops-\(UUID().uuidString.prefix(8))"
        )
        let policies = directory.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: TestPaths.samplePolicies.path)
        where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(
                at: TestPaths.samplePolicies.appendingPathComponent(name),
                to: policies.appendingPathComponent(name)
            )
        }
        let configuration = try String(contentsOfFile: OfflineCommandTests.exampleConfig, encoding: .utf8)
            .replacingOccurrences(of: "policies: ../../policies", with: "policies: ./policies")
        try configuration.write(to: directory.appendingPathComponent("allot.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: URL(fileURLWithPath: OfflineCommandTests.exampleSnapshot),
            to: directory.appendingPathComponent("tenant-snapshot.json")
        )
        try shell(
            """
            git init --quiet --initial-branch=main . && git add . \
            && git -c user.name=t -c user.email=t@example.invalid commit --quiet -m base \
            && git checkout --quiet -b change && git rm --quiet policies/engineering.yaml \
            && git -c user.name=t -c user.email=t@example.invalid commit --quiet -m 'drop engineering-e5'
            """,
            in: directory
        )
        return directory
    }

    @discardableResult
    static func shell(_ command: String, in directory: URL) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] =
            TestPaths.allot.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("each documented command exits 0 or 2, and writes the comment, the impact and the saved plan")
    func documentedCommandsRun() throws {
        let commands = try Self.documentedCommands()
        #expect(commands.count >= 4)
        let directory = try Self.repository()
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in commands {
            let status = try Self.shell(command + " 2>>stderr.log", in: directory)
            let errors =
                (try? String(contentsOf: directory.appendingPathComponent("stderr.log"), encoding: .utf8)) ?? ""
            #expect(status == 0 || status == 2, "\(command) exited \(status): \(errors)")
        }
        let markdown = try String(contentsOf: directory.appendingPathComponent("plan.md"), encoding: .utf8)
        #expect(markdown.hasPrefix("**Allot policy impact:** "))
        #expect(markdown.contains("<details><summary>engineering-e5"), "the removals name the deleted policy")
        let impact = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("impact.json")))
                as? [String: Any]
        )
        let changes = try #require(impact["changes"] as? [[String: Any]])
        #expect(changes.contains { $0["cause"] as? String == "policy" })
        let saved = try JSONDecoder().decode(
            SavedPlan.self,
            from: Data(contentsOf: directory.appendingPathComponent("plan.json"))
        )
        #expect(saved.users.count == saved.changes.count && !saved.digest.isEmpty)
    }

    @Test(
        "allot apply refuses an edited saved plan, and one made with other policies, before reading anything (exit 1)"
    )
    func savedPlanRefusals() throws {
        let directory = try Self.repository()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plan = "allot plan --config allot.yaml --snapshot tenant-snapshot.json --out plan.json >/dev/null 2>&1"
        #expect([0, 2].contains(try Self.shell(plan, in: directory)))
        let apply = "allot apply --config allot.yaml plan.json 2>apply.err"
        func refusal() throws -> String {
            try String(contentsOf: directory.appendingPathComponent("apply.err"), encoding: .utf8)
        }

        // Edited by hand: a value changed, the digest no longer matches.
        try Self.shell("sed -i 's/\"createdAt\" : \\([0-9]*\\)/\"createdAt\" : 1\\1/' plan.json", in: directory)
        #expect(try Self.shell(apply, in: directory) == 1)
        let edited = try refusal()
        #expect(edited.contains("the plan file was changed after it was written"), "\(edited)")

        // Planned again, then the policies change.
        #expect([0, 2].contains(try Self.shell(plan, in: directory)))
        try Self.shell("git rm --quiet policies/analytics.yaml", in: directory)
        #expect(try Self.shell(apply, in: directory) == 1)
        let otherPolicies = try refusal()
        #expect(otherPolicies.contains("the policies changed since the plan was made"), "\(otherPolicies)")
    }
}
