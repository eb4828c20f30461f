import AllotCore
import AllotSimulator
import Foundation
import Testing

@testable import AllotGraph

/// The fast path's reads over loopback against the simulator: delta links started from now,
/// rounds folded into a `TenantDelta`, refused links, failing pages, and users read in `$batch`es.
@Suite("Delta reads")
struct DeltaTests {
    static let attributes = ["department", "accountEnabled"]

    func group(_ name: String, in simulator: GraphSimulator) throws -> DirectoryGroup {
        try #require(simulator.currentTenant().groups.first { $0.displayName == name })
    }

    /// A user of the tenant who is in none of these groups.
    func outsider(of groups: [DirectoryGroup], in simulator: GraphSimulator) throws -> GUID {
        let members = Set(groups.flatMap(\.members))
        return try #require(simulator.currentTenant().users.first { !members.contains($0.id) }).id
    }

    @Test(
        "delta starts from now in one request per resource; a round with nothing changed costs two requests and is empty"
    )
    func nothingChanged() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            try await Harness.withSecretClient(endpoints) { client in
                let links = try await client.startDelta(attributes: Self.attributes)
                let log = simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/") }
                #expect(log.count == 2, "\(log.map(\.path))")
                #expect(
                    log[0].path.hasPrefix(
                        "/v1.0/users/delta?$select=id,userPrincipalName,usageLocation,accountEnabled,department&$deltatoken=latest"
                    ),
                    "\(log[0].path)"
                )
                #expect(
                    log[1].path.contains("/groups/delta?$select=displayName,members&$deltatoken=latest"),
                    "\(log[1].path)"
                )
                simulator.clearRequestLog()
                let round = try await client.followDelta(links)
                #expect(round.delta.isEmpty)
                #expect(round.requests == 2)
                #expect(simulator.requestLog().count == 2)
            }
        }
    }

    @Test("a round folds joiners (direct and nested), leavers, movers, new and deleted users into one delta")
    func changes() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            try await Harness.withSecretClient(endpoints) { client in
                let links = try await client.startDelta(attributes: Self.attributes)
                let pmo = try group("PMO", in: simulator)
                let platform = try group("Platform Engineering", in: simulator)
                let engineering = try group("Engineering", in: simulator)
                let joiner = try outsider(of: [pmo, engineering], in: simulator)
                let leaver = try #require(pmo.members.first)
                let mover = try #require(engineering.members.last)
                let newcomer = GUID(high: 0xabc, low: 1)
                try simulator.addMember(joiner, toGroup: pmo.id)
                try simulator.removeMember(leaver, fromGroup: pmo.id)
                try simulator.createUser(
                    DirectoryUser(id: newcomer, userPrincipalName: "newcomer@contoso.com", usageLocation: "GB")
                )
                try simulator.addMember(newcomer, toGroup: platform.id)
                try simulator.updateUser(mover, ["department": .string("Sales")])
                let gone = try #require(
                    simulator.currentTenant().users.first { ![joiner, leaver, mover, newcomer].contains($0.id) }
                ).id
                #expect(simulator.deleteUser(gone))

                let round = try await client.followDelta(links)
                let delta = round.delta
                #expect(delta.memberships[MembershipKey(group: pmo.id, member: joiner)]?.added == true)
                #expect(delta.memberships[MembershipKey(group: pmo.id, member: leaver)]?.added == false)
                #expect(
                    delta.memberships[MembershipKey(group: platform.id, member: newcomer)]
                        == MembershipChange(
                            group: platform.id,
                            member: newcomer,
                            memberKind: .user,
                            added: true
                        )
                )
                #expect(delta.changedUsers[newcomer]?.userPrincipalName == "newcomer@contoso.com")
                #expect(delta.changedUsers[newcomer]?.usageLocation == "GB")
                #expect(delta.changedUsers[mover]?.properties["department"] == .string("Sales"))
                #expect(delta.changedUsers[mover]?.licenseAssignmentStates == nil, "delta does not track licenses")
                #expect(delta.removedUsers == [gone])

                let next = try await client.followDelta(round.links)
                #expect(next.delta.isEmpty, "the next round starts where this one ended")
            }
        }
    }

    @Test("a refused delta link (410 syncStateNotFound) is deltaExpired, never an empty round")
    func expired() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            try await Harness.withSecretClient(endpoints) { client in
                let links = try await client.startDelta(attributes: Self.attributes)
                simulator.expireDeltaTokens()
                let error = await #expect(throws: GraphReadError.self) { try await client.followDelta(links) }
                #expect(error?.reason == .deltaExpired)
                #expect(
                    error?.request?.status == 410 && error?.request?.code == "syncStateNotFound",
                    "\(String(describing: error))"
                )
                #expect(error?.message.contains("full read") == true)
            }
        }
    }

    @Test("a delta page that keeps failing fails the round; the same links still answer afterwards")
    func failingPage() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            try await Harness.withSecretClient(endpoints) { client in
                let links = try await client.startDelta(attributes: Self.attributes)
                let pmo = try group("PMO", in: simulator)
                let joiner = try outsider(of: [pmo], in: simulator)
                try simulator.addMember(joiner, toGroup: pmo.id)
                simulator.addFault(SimulatedFault(kind: .failPage, path: "/groups/delta", count: -1))
                let error = await #expect(throws: GraphReadError.self) { try await client.followDelta(links) }
                #expect(error?.reason == .incomplete)
                #expect(error?.read == "groups delta page 1")
                simulator.clearFaults()
                let round = try await client.followDelta(links)
                #expect(
                    round.delta.memberships[MembershipKey(group: pmo.id, member: joiner)]?.added == true,
                    "nothing was lost"
                )
            }
        }
    }

    @Test("users are read with their licenses in $batches of 20; a user Graph no longer has is left out")
    func readUsers() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            try await Harness.withSecretClient(endpoints) { client in
                let truth = simulator.currentTenant().users
                let ids = truth.prefix(44).map(\.id) + [GUID(high: 0xdead, low: 1)]
                let read = try await client.readUsers(ids, attributes: Self.attributes)
                #expect(read.requests == 3)
                #expect(read.users.map(\.id) == Array(truth.prefix(44).map(\.id)))
                let first = try #require(read.users.first)
                #expect(first.licenseAssignmentStates == truth[0].licenseAssignmentStates)
                #expect((first.properties["department"] ?? .null) == (truth[0].properties["department"] ?? .null))
                let batches = simulator.requestLog().filter { $0.path.hasSuffix("/$batch") }
                #expect(batches.count == 3)
            }
        }
    }

    @Test("the full read records the groups nested in each referenced group")
    func nestedGroupsRead() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: [], groups: ["Engineering", "PMO"])
            }
            let platform = try group("Platform Engineering", in: simulator)
            let data = try group("Data Engineering", in: simulator)
            let engineering = try #require(model.groups.first { $0.displayName == "Engineering" })
            #expect(engineering.nestedGroups == [platform.id, data.id])
            #expect(model.groups.first { $0.displayName == "PMO" }?.nestedGroups == [])
        }
    }
}
