import AllotTestSupport
import Foundation
import Glibc
import Testing

/// A policy that changes the revision and nothing a cycle does (`groups: []` matches nobody).
private let extraPolicy = """
    name: nobody-yet
    description: Added by a test to change the policy set
    match:
      groups: []
    licenses:
      - sku: VISIOCLIENT

    """

/// A YAML syntax error (line 4) and, in another file, a SKU that is not managed (line 5).
private let brokenFiles = [
    "zz-syntax.yaml": """
    name: broken-syntax
    match:
      attributes: { department: Sales
    licenses:
      - sku: SPE_E3

    """,
    "zz-unmanaged.yaml": """
    name: unmanaged-sku
    match:
      all: true
    licenses:
      - sku: POWER_BI_PRO

    """,
]

extension DaemonProcessTests {
    @Test(
        "SIGHUP loads a valid change, keeps the last good set on an invalid one with every problem reported, and recovers when it is fixed"
    )
    func reloadOnSighup() async throws {
        let testbed = try await Testbed("reload", users: 300, seed: 12)
        try testbed.configure(interval: "2s")
        let daemon = try await testbed.startDaemon()
        defer { daemon.child.stop() }
        try await daemon.log.first("cycle.finished")
        #expect(try await daemon.get("/readyz").status == 200)
        let original = try #require(try await daemon.policyRevision())

        // A valid change: loaded on SIGHUP, shown in /status, used by the next cycle.
        try testbed.writePolicy("extra.yaml", extraPolicy)
        var mark = daemon.log.records.count
        daemon.child.signal(SIGHUP)
        let (loadedIndex, loaded) = try await daemon.log.first("policy.loaded", from: mark) {
            $0.message.contains("SIGHUP")
        }
        let changed = try #require(loaded.string("policy.revision"))
        #expect(changed != original)
        #expect(loaded.strings("policy.files")?.contains { $0.hasSuffix("/extra.yaml") } == true, "\(loaded)")
        #expect(try await daemon.policyRevision() == changed)
        try await daemon.log.first("cycle.started", from: loadedIndex) { $0.string("policy.revision") == changed }

        // An invalid change: every problem logged with its file, line and column (as `allot
        // validate` prints them), /readyz 503 with the reason, the last good set still in use.
        for (name, contents) in brokenFiles { try testbed.writePolicy(name, contents) }
        let validation = try testbed.validate()
        #expect(validation.status == 1)
        #expect(validation.problems.count >= 2, "\(validation.problems)")
        mark = daemon.log.records.count
        daemon.child.signal(SIGHUP)
        let (invalidIndex, invalid) = try await daemon.log.first("policy.invalid", from: mark)
        let errors = try #require(invalid.strings("errors"))
        #expect(
            Set(errors) == Set(validation.problems),
            "policy.invalid: \(errors)\nallot validate: \(validation.problems)"
        )
        for name in brokenFiles.keys {
            let path = testbed.policiesDirectory.appendingPathComponent(name).path
            #expect(
                errors.contains { $0.hasPrefix(path + ":") && $0.dropFirst(path.count).contains(/^:\d+:\d+:\s/) },
                "no \(path):LINE:COLUMN in \(errors)"
            )
        }
        #expect(invalid.string("level") == "error")
        let readiness = try await daemon.get("/readyz")
        #expect(readiness.status == 503)
        #expect(readiness.body.contains("policies invalid"), "\(readiness.body)")
        #expect(try await daemon.policyRevision() == changed)
        let (nextCycle, _) = try await daemon.log.first("cycle.started", from: invalidIndex) {
            $0.string("policy.revision") == changed
        }
        let (_, finished) = try await daemon.log.first("cycle.finished", from: nextCycle)
        #expect(finished.string("result") == "converged", "\(finished)")
        #expect(try await daemon.get("/readyz").status == 503, "still not ready while the policies on disk are invalid")

        // Fixed: SIGHUP loads the set, /readyz is 200 again.
        for name in brokenFiles.keys {
            try FileManager.default.removeItem(at: testbed.policiesDirectory.appendingPathComponent(name))
        }
        mark = daemon.log.records.count
        daemon.child.signal(SIGHUP)
        try await daemon.log.first("policy.loaded", from: mark) { $0.string("policy.revision") == changed }
        try await waitUntil("/readyz to answer 200", timeout: .seconds(30)) {
            try await daemon.get("/readyz").status == 200
        }

        // A broken allot.yaml stays reported through the cycles that follow, although the policy
        // directory (checked before each cycle) is fine; fixed and reloaded, it is accepted.
        let configuration = try String(contentsOfFile: testbed.configurationPath, encoding: .utf8)
        try (configuration + "reconcil: {}\n").write(
            toFile: testbed.configurationPath,
            atomically: true,
            encoding: .utf8
        )
        mark = daemon.log.records.count
        daemon.child.signal(SIGHUP)
        let (brokenIndex, broken) = try await daemon.log.first("policy.invalid", from: mark)
        #expect(
            broken.strings("errors")?.contains { $0.hasPrefix(testbed.configurationPath + ":") } == true,
            "\(broken)"
        )
        let (afterBroken, _) = try await daemon.log.first("cycle.finished", from: brokenIndex)
        try await daemon.log.first("cycle.finished", from: afterBroken + 1)
        #expect(try await daemon.get("/readyz").status == 503, "still not ready while allot.yaml is invalid")
        try configuration.write(toFile: testbed.configurationPath, atomically: true, encoding: .utf8)
        daemon.child.signal(SIGHUP)
        try await waitUntil("/readyz to answer 200", timeout: .seconds(30)) {
            try await daemon.get("/readyz").status == 200
        }

        daemon.child.signal(SIGTERM)
        #expect(try await daemon.child.exitStatus(within: Self.stopTimeout) == 0)
    }

    @Test("A policy directory changed on disk is picked up at the next cycle without a signal")
    func policyChangeOnDisk() async throws {
        let testbed = try await Testbed("on-disk", users: 300, seed: 13)
        try testbed.configure(interval: "2s")
        let daemon = try await testbed.startDaemon()
        defer { daemon.child.stop() }
        try await daemon.log.first("cycle.finished")
        let original = try #require(try await daemon.policyRevision())

        let mark = daemon.log.records.count
        try testbed.writePolicy("extra.yaml", extraPolicy)
        let (loadedIndex, loaded) = try await daemon.log.first("policy.loaded", from: mark)
        #expect(loaded.message.contains("the policy directory changed"), "\(loaded)")
        let changed = try #require(loaded.string("policy.revision"))
        #expect(changed != original)
        let (startedIndex, _) = try await daemon.log.first("cycle.started", from: loadedIndex)
        #expect(daemon.log.records[startedIndex].string("policy.revision") == changed)
        #expect(try await daemon.policyRevision() == changed)
        #expect(daemon.log.events("daemon.reloading").isEmpty)

        // An invalid change on disk: reported once (not every cycle), /readyz 503, the last
        // good set still in use; undone, the daemon is ready again with the same set.
        let (name, contents) = try #require(brokenFiles.first)
        try testbed.writePolicy(name, contents)
        let (invalidIndex, _) = try await daemon.log.first("policy.invalid", from: startedIndex)
        let (nextCycle, _) = try await daemon.log.first("cycle.finished", from: invalidIndex)
        try await daemon.log.first("cycle.finished", from: nextCycle + 1)
        #expect(
            daemon.log.records[invalidIndex...].filter { $0.event == "policy.invalid" }.count == 1,
            "an unchanged broken set is reported once"
        )
        #expect(try await daemon.get("/readyz").status == 503)
        #expect(try await daemon.policyRevision() == changed)
        try FileManager.default.removeItem(at: testbed.policiesDirectory.appendingPathComponent(name))
        try await waitUntil("/readyz to answer 200", timeout: .seconds(30)) {
            try await daemon.get("/readyz").status == 200
        }
        #expect(try await daemon.policyRevision() == changed)

        daemon.child.signal(SIGTERM)
        #expect(try await daemon.child.exitStatus(within: Self.stopTimeout) == 0)
    }
}
