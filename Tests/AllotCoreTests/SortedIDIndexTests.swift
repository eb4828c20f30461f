import Testing

@testable import AllotCore
import AllotTools

@Suite("User and member lookups")
struct SortedIDIndexTests {
    /// Random ids (as Entra's are), ids that all share their first 16 bits, and ids at the ends
    /// of the range: each must be found at its index, and ids not among them not at all.
    @Test(
        "every id is found at its sorted index and no other id is found",
        arguments: ["random", "one prefix", "extremes"]
    )
    func lookups(kind: String) {
        var random = SplitMix64(seed: 13)
        var ids: [GUID]
        switch kind {
        case "random": ids = (0..<5_000).map { _ in GUID(high: random.next(), low: random.next()) }
        case "one prefix":
            ids = (0..<500).map { _ in GUID(high: 0xbe9c_0000_0000_0000 | random.next() >> 16, low: random.next()) }
        default:
            ids = [
                GUID(high: 0, low: 0), GUID(high: 0, low: 1), GUID(high: .max, low: .max - 1),
                GUID(high: .max, low: .max),
            ]
        }
        ids.sort()
        let index = SortedIDIndex(sorted: ids)
        for (position, id) in ids.enumerated() { #expect(index.index(of: id) == position) }
        let absent =
            [GUID(high: 0xbe9c_0000_0000_0001, low: 5), GUID(high: 1, low: 0), GUID(high: .max - 1, low: .max)]
            + (0..<200).map { _ in GUID(high: random.next(), low: random.next()) }
        for id in absent where !ids.contains(id) { #expect(index.index(of: id) == nil, "\(id)") }
    }

    @Test("a user principal name is found ignoring case, ASCII or not, as lowercased() compares")
    func principalNames() throws {
        // Fixture users are NAME@contoso.com.
        let names = ["Ann", "bob", "ann.b", "Zoë"]
        let tenant = try Fixture.tenant(skus: [], users: names.enumerated().map { Fixture.user($0 + 1, $1) })
        func found(_ reference: String, in tenant: TenantModel) -> String? {
            tenant.userIndex(forReference: reference).map(tenant.userPrincipalName(at:))
        }
        #expect(found("ANN@contoso.COM", in: tenant) == "Ann@contoso.com")
        #expect(found("ann.B@contoso.com", in: tenant) == "ann.b@contoso.com")
        #expect(found("ZOË@CONTOSO.COM", in: tenant) == "Zoë@contoso.com")
        #expect(found("ann@contoso.comm", in: tenant) == nil)
        let ascii = try Fixture.tenant(skus: [], users: names.dropLast().enumerated().map { Fixture.user($0 + 1, $1) })
        #expect(found("BOB@CONTOSO.COM", in: ascii) == "bob@contoso.com")
        #expect(found("an@contoso.com", in: ascii) == nil)
        #expect(found("böb@contoso.com", in: ascii) == nil)
    }

    @Test("group sets ignore members that are not users and count a member listed twice once")
    func groupSets() {
        let users = [GUID(high: 3, low: 0), GUID(high: 0x0001_0000_0000_0000, low: 0), GUID(high: .max, low: 9)]
            .sorted()
        let stranger = GUID(high: 0x0001_0000_0000_0000, low: 1)
        let groups = [
            DirectoryGroup(
                id: GUID(high: 10, low: 0),
                displayName: "A",
                members: [users[2], stranger, users[0], users[2]]
            ),
            DirectoryGroup(id: GUID(high: 11, low: 0), displayName: "B", members: [users[0]]),
        ]
        let membership = TenantBuilder.internGroupSets(groups: groups, userIDs: users)
        #expect(membership.setOfUser.map { membership.sets[Int($0)] } == [[0, 1], [], [0]])
    }
}
