import AllotCore
import AllotTestSupport
import AllotSimulator
import Foundation
import Testing

@Suite("allot snapshot against the simulator")
struct SnapshotCommandTests {
    @Test("writes the tenant as a snapshot; an unwritable path or a read that fails is exit 1 with nothing written")
    func snapshot() async throws {
        let scenario = try await Scenario("snapshot", seed: 38)
        let path = scenario.workspace.directory + "/tenant-snapshot.json"
        let written = try await scenario.workspace.run(["snapshot", "--out", path])
        #expect(written.status == 0, "\(written.standardError)")
        let snapshot = try JSONDecoder().decode(Snapshot.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(snapshot.version == 1)
        #expect(snapshot.users.count == scenario.initial.users.count)

        // --redact: pseudonyms instead of names, and the plan over it is the plan over the original.
        let redactedPath = scenario.workspace.directory + "/redacted.json"
        let redactedRun = try await scenario.workspace.run(["snapshot", "--redact", "--out", redactedPath])
        #expect(redactedRun.status == 0, "\(redactedRun.standardError)")
        let redacted = try JSONDecoder().decode(
            Snapshot.self,
            from: Data(contentsOf: URL(fileURLWithPath: redactedPath))
        )
        #expect(redacted.users.map(\.id) == snapshot.users.map(\.id))
        #expect(redacted.users.allSatisfy { $0.userPrincipalName.hasSuffix("@redacted.invalid") })
        #expect(redacted.tenant == nil)
        let original = try await scenario.workspace.run(["plan", "--snapshot", path, "--output", "json"])
        let overRedacted = try await scenario.workspace.run(["plan", "--snapshot", redactedPath, "--output", "json"])
        func sent(_ output: String) throws -> [String] {
            let plan = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            return (plan["changes"] as? [[String: Any]] ?? []).map { change in
                let body = change["assignLicense"] as? [String: Any]
                let adds = (body?["addLicenses"] as? [[String: Any]] ?? []).map { "\($0["skuId"] ?? "")" }
                return "\(change["userId"] ?? "") +\(adds) -\(body?["removeLicenses"] as? [String] ?? [])"
            }
        }
        #expect(try sent(original.standardOutput) == sent(overRedacted.standardOutput))

        let unwritable = scenario.workspace.directory + "/no-such-directory/tenant.json"
        let refused = try await scenario.workspace.run(["snapshot", "--out", unwritable])
        #expect(refused.status == 1)
        #expect(
            refused.standardError.contains("cannot write the snapshot to \(unwritable)"),
            "\(refused.standardError)"
        )

        try await scenario.simulator.addFault(SimulatedFault(kind: .failPage, path: "/users", after: 1, count: -1))
        let incomplete = scenario.workspace.directory + "/incomplete.json"
        let failed = try await scenario.workspace.run(["snapshot", "--out", incomplete])
        #expect(failed.status == 1)
        #expect(!FileManager.default.fileExists(atPath: incomplete), "an incomplete read writes no snapshot")
    }
}
