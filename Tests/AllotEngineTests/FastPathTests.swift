import AllotTestSupport
import AllotCore
import AllotEngine
import AllotSimulator
import Foundation
import Logging
import Testing

/// The fast path end to end, in process against the simulator (issue 12): after a full cycle
/// that starts delta tracking, joiners (direct and through a nested group), leavers and movers
/// are licensed by one fast pass at the documented cost; a refused token falls back to a full
/// cycle; a failing delta page changes nothing.
@Suite("Fast path end to end")
struct FastPathTests {
    /// A small converged-ish tenant with seats to spare.
    static var tenant: Snapshot {
        var snapshot = TestTenant.generate(users: 300, seed: 12, drift: 0)
        for sku in ["SPE_E3", "SPE_E5", "POWER_BI_PRO", "PROJECTPROFESSIONAL"] {
            TestTenant.addSeats(50, to: sku, in: &snapshot)
        }
        return snapshot
    }

    static func group(_ name: String, _ simulator: GraphSimulator) throws -> DirectoryGroup {
        try #require(simulator.currentTenant().groups.first { $0.displayName == name })
    }

    static func user(_ id: GUID, _ simulator: GraphSimulator) throws -> DirectoryUser {
        try #require(simulator.currentTenant().users.first { $0.id == id })
    }

    /// An enabled member who is in none of `groups` and holds none of `skus` directly.
    static func outsider(
        _ groups: [DirectoryGroup],
        holding skus: [String] = [],
        _ simulator: GraphSimulator
    ) throws -> DirectoryUser {
        let members = Set(groups.flatMap(\.members))
        return try #require(
            simulator.currentTenant().users.first { user in
                !members.contains(user.id) && user.properties["accountEnabled"] == .bool(true)
                    && user.properties["userType"] == .string("Member")
                    && user.usageLocation != nil && !skus.contains { TestTenant.holdsDirectly(user, $0) }
            }
        )
    }

    /// A cycle that converges the tenant, a full cycle that seeds the fast path (and writes
    /// nothing: usage locations it set would show in the users delta), the request log cleared.
    static func seeded(_ engine: InProcessEngine) async throws -> FastPathState {
        _ = try await engine.cycle()
        let (cycle, fastPath) = try await engine.seedingCycle()
        #expect(cycle.report.applied.total == 0)
        #expect(cycle.report.result != .failed, "\(cycle.report.error ?? "")")
        engine.simulator.clearRequestLog()
        return try #require(fastPath, "the full cycle started delta tracking")
    }

    @Test("nothing changed: only the two delta requests")
    func nothingChanged() async throws {
        try await InProcessEngine.with("fast-nothing", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .nothingChanged)
            #expect(pass.report.deltaRequests == 2)
            let log = engine.simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/") }  // not the token request
            #expect(log.count == 2 && log.allSatisfy { $0.path.contains("/delta") }, "\(log.map(\.path))")
            #expect(pass.events("fastpath.changes").isEmpty)
        }
    }

    @Test(
        "a joiner of a referenced group is licensed by the next fast pass: delta pages + 1 user batch + 1 SKU read + the write"
    )
    func directJoiner() async throws {
        try await InProcessEngine.with("fast-joiner", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let pmo = try Self.group("PMO", engine.simulator)
            let joiner = try Self.outsider([pmo], holding: ["PROJECTPROFESSIONAL"], engine.simulator)
            try engine.simulator.addMember(joiner.id, toGroup: pmo.id)
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .converged, "\(pass.report)")
            #expect(pass.report.usersAffected == 1)
            #expect(TestTenant.holdsDirectly(try Self.user(joiner.id, engine.simulator), "PROJECTPROFESSIONAL"))
            let changes = pass.events("fastpath.changes")
            #expect(changes.count == 1)
            #expect(changes.first?["user.id"] == .string(joiner.id.description))
            #expect(changes.first?["reasons"] == .array([.string("joined PMO")]))
            let log = engine.simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/") }  // not the token request
            let paths = log.map(\.path)
            #expect(paths.filter { $0.contains("/delta") }.count == 2, "\(paths)")
            #expect(
                paths.filter { $0.hasSuffix("/$batch") }.count == 2,
                "one batch of user reads, one of writes: \(paths)"
            )
            #expect(paths.filter { $0.hasSuffix("/subscribedSkus") }.count == 1)
            #expect(log.count == 5, "\(paths)")
            #expect(pass.report.applied.adds == 1)
        }
    }

    @Test("a new user added to a group nested in a referenced group gets that group's licenses")
    func nestedJoiner() async throws {
        try await InProcessEngine.with("fast-nested", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let platform = try Self.group("Platform Engineering", engine.simulator)
            let newcomer = GUID(high: 0x12, low: 1)
            try engine.simulator.createUser(
                DirectoryUser(
                    id: newcomer,
                    userPrincipalName: "newcomer@contoso.com",
                    usageLocation: "GB",
                    properties: ["accountEnabled": true, "userType": "Member", "department": "Engineering"]
                )
            )
            try engine.simulator.addMember(newcomer, toGroup: platform.id)
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .converged, "\(pass.report)")
            let user = try Self.user(newcomer, engine.simulator)
            #expect(TestTenant.holdsDirectly(user, "SPE_E5"))
            #expect(!TestTenant.holdsDirectly(user, "SPE_E3"), "E5 replaces E3")
            let reasons = pass.events("fastpath.changes").first?["reasons"]
            #expect(
                reasons == .array([.string("joined Engineering"), .string("created")]),
                "\(String(describing: reasons))"
            )
        }
    }

    @Test("a leaver of a group without nested groups loses its license in the next fast pass")
    func leaver() async throws {
        try await InProcessEngine.with("fast-leaver", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let pmo = try Self.group("PMO", engine.simulator)
            let leaver = try #require(
                pmo.members.first { id in
                    (try? Self.user(id, engine.simulator)).map { TestTenant.holdsDirectly($0, "PROJECTPROFESSIONAL") }
                        == true
                }
            )
            try engine.simulator.removeMember(leaver, fromGroup: pmo.id)
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .converged, "\(pass.report)")
            #expect(pass.report.applied.removals == 1)
            #expect(state.removalsSinceFullCycle == 1, "the guard counts it with the next passes'")
            #expect(!TestTenant.holdsDirectly(try Self.user(leaver, engine.simulator), "PROJECTPROFESSIONAL"))
            #expect(pass.events("fastpath.changes").first?["reasons"] == .array([.string("left PMO")]))
        }
    }

    @Test("a leaver of a group with nested groups needs a full cycle: nothing is removed by the fast pass")
    func nestedLeaver() async throws {
        try await InProcessEngine.with("fast-nested-leaver", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let platform = try Self.group("Platform Engineering", engine.simulator)
            let leaver = try #require(platform.members.first)
            try engine.simulator.removeMember(leaver, fromGroup: platform.id)
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .fullCycleNeeded)
            #expect(pass.report.reason?.contains("Engineering") == true, "\(pass.report.reason ?? "")")
            #expect(!engine.simulator.requestLog().contains { $0.path.hasSuffix("/$batch") }, "nothing written")
        }
    }

    @Test("a mover whose tested attribute changed gets what the policies now give")
    func mover() async throws {
        try await InProcessEngine.with("fast-mover", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let mover = try #require(
                engine.simulator.currentTenant().users.first { user in
                    user.properties["accountEnabled"] == .bool(true)
                        && user.properties["department"] == .string("Marketing")
                        && !TestTenant.holdsDirectly(user, "POWER_BI_PRO") && user.usageLocation != nil
                }
            )
            try engine.simulator.updateUser(mover.id, ["department": .string("Finance")])
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .converged, "\(pass.report)")
            #expect(TestTenant.holdsDirectly(try Self.user(mover.id, engine.simulator), "POWER_BI_PRO"))
            #expect(pass.events("fastpath.changes").first?["reasons"] == .array([.string("attributes changed")]))
        }
    }

    @Test("an expired delta token (410) falls back to a full cycle, never to nothing changed")
    func expiredToken() async throws {
        try await InProcessEngine.with("fast-expired", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let pmo = try Self.group("PMO", engine.simulator)
            let joiner = try Self.outsider([pmo], holding: ["PROJECTPROFESSIONAL"], engine.simulator)
            try engine.simulator.addMember(joiner.id, toGroup: pmo.id)
            engine.simulator.expireDeltaTokens()
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .fullCycleNeeded)
            #expect(pass.report.reason?.contains("syncStateNotFound") == true, "\(pass.report.reason ?? "")")
            #expect(pass.events("fastpath.fallback").count == 1)
            let (cycle, reseeded) = try await engine.seedingCycle()
            #expect(cycle.report.result != .failed)
            #expect(reseeded != nil, "the full cycle seeds new links")
            #expect(TestTenant.holdsDirectly(try Self.user(joiner.id, engine.simulator), "PROJECTPROFESSIONAL"))
        }
    }

    @Test("a delta page that fails changes nothing; the next pass, with the same links, handles the change")
    func failingDeltaPage() async throws {
        try await InProcessEngine.with("fast-failing", tenant: Self.tenant) { engine in
            var state = try await Self.seeded(engine)
            let before = state.links
            let pmo = try Self.group("PMO", engine.simulator)
            let joiner = try Self.outsider([pmo], holding: ["PROJECTPROFESSIONAL"], engine.simulator)
            try engine.simulator.addMember(joiner.id, toGroup: pmo.id)
            engine.simulator.addFault(SimulatedFault(kind: .failPage, path: "/groups/delta", count: -1))
            let failed = try await engine.fastPass(&state)
            #expect(failed.report.result == .failed)
            #expect(state.links == before)
            #expect(!TestTenant.holdsDirectly(try Self.user(joiner.id, engine.simulator), "PROJECTPROFESSIONAL"))
            engine.simulator.clearFaults()
            let pass = try await engine.fastPass(&state)
            #expect(pass.report.result == .converged, "\(pass.report)")
            #expect(TestTenant.holdsDirectly(try Self.user(joiner.id, engine.simulator), "PROJECTPROFESSIONAL"))
        }
    }
}
