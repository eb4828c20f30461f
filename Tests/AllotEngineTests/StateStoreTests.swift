import AllotCore
import Foundation
import Testing

@testable import AllotEngine

@Suite("State file")
struct StateStoreTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("allot-state-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("state round-trips through an atomic write; no temporary file is left behind")
    func roundTrip() throws {
        let store = StateStore(directory: try temporaryDirectory() + "/nested")
        var state = EngineState()
        state.removalHistory = RemovalHistory(firstSeen: [
            PendingRemoval(user: GUID(high: 1, low: 2), sku: GUID(high: 3, low: 4)): 1_000
        ])
        state.record(user: GUID(high: 9, low: 9), failedWith: "Request_BadRequest", at: 100)
        state.groups = [
            EngineState.GroupCount(
                group: GUID(high: 5, low: 1),
                users: 0,
                shrink: EngineState.HeldShrink(usersBefore: 40, cyclesSeen: 1)
            ),
            EngineState.GroupCount(group: GUID(high: 5, low: 2), users: 12),
        ]
        try store.save(state)
        let loaded = store.load()
        #expect(loaded.recovery == nil)
        #expect(loaded.state == state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory) == ["state.json"])
    }

    @Test(
        "a version 1 file (before group counts) loads: removal clocks and backoffs kept, no group counts, saved as version 2"
    )
    func versionOne() throws {
        let store = StateStore(directory: try temporaryDirectory())
        try Data(
            """
            {
              "failures" : [ { "count" : 1, "lastError" : "Request_BadRequest", "retryAfter" : 700, "user" : "00000000-0000-0009-0000-000000000009" } ],
              "pendingRemovals" : [ { "since" : 1000, "sku" : "00000000-0000-0003-0000-000000000004", "user" : "00000000-0000-0001-0000-000000000002" } ],
              "version" : 1
            }
            """.utf8
        ).write(to: URL(fileURLWithPath: store.path))
        let loaded = store.load()
        #expect(loaded.recovery == nil)
        #expect(loaded.state.version == EngineState.currentVersion)
        #expect(loaded.state.groups.isEmpty)
        #expect(
            loaded.state.removalHistory.firstSeen == [
                PendingRemoval(user: GUID(high: 1, low: 2), sku: GUID(high: 3, low: 4)): 1000
            ]
        )
        #expect(loaded.state.failures.map(\.lastError) == ["Request_BadRequest"])
        try store.save(loaded.state)
        let saved = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: store.path))) as? [String: Any]
        )
        #expect(saved["version"] as? Int == 2)
        #expect((saved["groups"] as? [Any])?.isEmpty == true)
    }

    @Test("a file from a newer Allot is set aside, like a corrupt one")
    func newerVersion() throws {
        let store = StateStore(directory: try temporaryDirectory())
        try Data(#"{"version": 99, "pendingRemovals": [], "failures": []}"#.utf8).write(
            to: URL(fileURLWithPath: store.path)
        )
        let loaded = store.load(now: Date(timeIntervalSince1970: 7))
        #expect(loaded.state == EngineState())
        #expect(loaded.recovery?.contains("state version 99") == true, "\(loaded.recovery ?? "")")
    }

    @Test("a missing file is an empty state; a corrupt one is set aside and reported, or left in place when only read")
    func recovery() throws {
        let store = StateStore(directory: try temporaryDirectory())
        #expect(store.load().state == EngineState())
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: store.path))
        let loaded = store.load(now: Date(timeIntervalSince1970: 42))
        #expect(loaded.state == EngineState())
        #expect(loaded.recovery?.contains("state.json.corrupt-42") == true)
        #expect(FileManager.default.fileExists(atPath: store.path + ".corrupt-42"))
        #expect(!FileManager.default.fileExists(atPath: store.path))

        // Read-only commands leave a corrupt file where it is, for the cycle that will save.
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: store.path))
        let peeked = store.load(now: Date(timeIntervalSince1970: 43), setAside: false)
        #expect(peeked.state == EngineState())
        #expect(peeked.recovery?.contains("left it in place") == true)
        #expect(FileManager.default.fileExists(atPath: store.path))
        #expect(!FileManager.default.fileExists(atPath: store.path + ".corrupt-43"))
    }

    @Test("failures back off exponentially up to a limit; a success clears the user")
    func backoff() {
        var state = EngineState()
        let user = GUID(high: 1, low: 1)
        state.record(user: user, failedWith: "x", at: 0, base: .seconds(60), maximum: .seconds(300))
        #expect(state.failures.first?.retryAfter == 60)
        state.record(user: user, failedWith: "x", at: 0, base: .seconds(60), maximum: .seconds(300))
        #expect(state.failures.first?.retryAfter == 120)
        for _ in 0..<10 { state.record(user: user, failedWith: "x", at: 0, base: .seconds(60), maximum: .seconds(300)) }
        #expect(state.failures.first?.retryAfter == 300)
        #expect(state.usersInBackoff(at: 299) == [user])
        #expect(state.usersInBackoff(at: 300).isEmpty)
        state.record(user: user, failedWith: nil, at: 10)
        #expect(state.failures.isEmpty)
    }

    @Test("the state directory follows systemd, then XDG, then the home directory")
    func directories() {
        #expect(
            StateStore.defaultDirectory(environment: ["STATE_DIRECTORY": "/var/lib/allot:/var/lib/other"])
                == "/var/lib/allot"
        )
        #expect(StateStore.defaultDirectory(environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"]) == "/x/allot")
        #expect(StateStore.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.local/state/allot")
    }
}
