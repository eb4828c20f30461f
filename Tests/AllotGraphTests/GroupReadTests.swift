import AllotCore
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import AllotGraph

/// Reading group membership where real Graph is stricter than it looks: the strongly consistent
/// listing, hidden membership, and listings whose `@odata.nextLink` repeats.
@Suite("Group membership reads")
struct GroupReadTests {
    @Test(
        "members come from the standard transitiveMembers listing: no OData cast, no $count; the lookup asks for visibility"
    )
    func consistentListing() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: [], groups: ["Engineering", "PMO"])
            }
            let truth = simulator.currentTenant()
            for reference in ["Engineering", "PMO"] {
                let index = try #require(model.groups(matching: reference).first)
                let expected = try #require(truth.groups.first { $0.displayName == reference })
                #expect(model.memberCount(ofGroup: index) == Set(expected.members).count, "\(reference)")
            }
            let engineering = try #require(truth.groups.first { $0.displayName == "Engineering" })
            #expect(
                !(engineering.memberGroups ?? []).isEmpty,
                "Engineering lists nested groups, which the listing returns and the client skips"
            )
            let log = simulator.requestLog()
            let memberReads = log.filter { $0.path.contains("/transitiveMembers") }
            #expect(memberReads.count == 2)
            for read in memberReads {
                #expect(read.path.hasSuffix("/transitiveMembers?$select=id&$top=999"), "\(read.path)")
                #expect(!read.path.contains("microsoft.graph.user") && !read.path.contains("$count"), "\(read.path)")
            }
            let lookups = log.filter { $0.path.hasPrefix("/v1.0/groups?") }
            #expect(
                lookups.count == 2 && lookups.allSatisfy { $0.path.contains("$select=id,displayName,visibility") },
                "\(lookups.map(\.path))"
            )
        }
    }

    @Test(
        "a nextLink that repeats a link already followed, or the first request, is an error naming the read and the link"
    )
    func repeatingNextLink() throws {
        let graph = try Endpoint("https://graph.microsoft.com/v1.0", setting: "graph.endpoint")
        let first = "https://graph.microsoft.com/v1.0/users?$select=id&$top=999"
        let second = "https://graph.microsoft.com/v1.0/users?$select=id&$top=999&$skiptoken=2"
        var links = NextLinks(graph: graph, first: first)
        #expect(try links.follow(second, read: "users page 1") == second)
        #expect(try links.follow(nil, read: "users page 2") == nil)
        #expect(try links.follow("", read: "users page 2") == nil)
        let error = #expect(throws: GraphReadError.self) { try links.follow(second, read: "users page 2") }
        #expect(error?.reason == .malformedResponse)
        #expect(error?.read == "users page 2")
        #expect(
            error?.message.contains(second) == true && error?.message.contains("repeats") == true,
            "\(error?.message ?? "")"
        )

        var again = NextLinks(graph: graph, first: first)
        #expect(throws: GraphReadError.self) { try again.follow(first, read: "users page 1") }
        var elsewhere = NextLinks(graph: graph, first: first)
        let foreign = #expect(throws: GraphReadError.self) {
            try elsewhere.follow("https://evil.example/v1.0/users", read: "users page 1")
        }
        #expect(foreign?.message.contains("does not point at the Graph endpoint") == true)
    }

    /// A JWT with these claims (the signature is not checked, so any bytes do).
    static func token(claims: String) -> String {
        [#"{"typ":"JWT","alg":"RS256"}"#, claims].map { Base64URL.encode(Array($0.utf8)) }.joined(separator: ".")
            + ".c2lnbmF0dXJl"
    }

    @Test("the roles of an app-only token are read from its payload; an opaque token has none Allot can know")
    func tokenRoles() {
        #expect(
            AccessTokenRoles.roles(
                of: Self.token(
                    claims: #"{"aud":"https://graph.microsoft.com","roles":["User.Read.All","Member.Read.Hidden"]}"#
                )
            )
                == ["User.Read.All", "Member.Read.Hidden"]
        )
        #expect(
            AccessTokenRoles.roles(of: Self.token(claims: #"{"aud":"https://graph.microsoft.com","idtyp":"app"}"#))
                == [],
            "Entra leaves roles out when none is granted"
        )
        #expect(AccessTokenRoles.roles(of: "s3cr3t-opaque-token") == nil)
        #expect(AccessTokenRoles.roles(of: Self.token(claims: #"{"roles":"Member.Read.Hidden"}"#)) == nil, "not a list")
        #expect(AccessTokenRoles.roles(of: "eyJhbGciOiJSUzI1NiJ9.not base64!.x") == nil)
    }

    @Test(
        "a hidden-membership group is refused with a token lacking Member.Read.Hidden, or one Allot cannot read; read with one holding it"
    )
    func hiddenMembershipRefusal() throws {
        let group = GUID(high: 0xabc, low: 1)
        let without = Self.token(claims: #"{"roles":["User.Read.All","GroupMember.Read.All"]}"#)
        let refusal = try #require(
            GraphClient.hiddenMembershipRefusal(groupId: group, displayName: "Board", token: without)
        )
        #expect(refusal.reason == .membershipHidden)
        #expect(refusal.read == "group 'Board' (\(group))")
        #expect(refusal.message.contains("lacks the Member.Read.Hidden application permission"), "\(refusal.message)")
        #expect(
            refusal.message.contains("deploy/app-registration.md")
                && refusal.message.contains("stop referencing the group")
        )
        #expect(!"\(refusal)".contains(without), "the token never appears in the error")

        let opaque = try #require(
            GraphClient.hiddenMembershipRefusal(groupId: group, displayName: "Board", token: "opaque")
        )
        #expect(opaque.message.contains("not a JWT"), "\(opaque.message)")

        let with = Self.token(claims: #"{"roles":["GroupMember.Read.All","Member.Read.Hidden"]}"#)
        #expect(GraphClient.hiddenMembershipRefusal(groupId: group, displayName: "Board", token: with) == nil)
    }

    // MARK: Against the strict simulator

    /// The generated tenant with one group's `visibility` set.
    static func tenant(hiding groupName: String) throws -> Snapshot {
        var tenant = Harness.tenant
        guard let index = tenant.groups.firstIndex(where: { $0.displayName == groupName }) else {
            throw HarnessError("no group \(groupName)")
        }
        tenant.groups[index].visibility = "HiddenMembership"
        return tenant
    }

    /// `PUT /_simulator/roles`: the application permissions the registered app's tokens carry.
    static func setRoles(_ roles: [String], _ endpoints: SimulatorEndpoints) async throws {
        var request = HTTPClientRequest(url: endpoints.controlEndpoint + "/roles")
        request.method = .PUT
        let body = try JSONSerialization.data(withJSONObject: ["clientId": Harness.clientId, "roles": roles])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        guard response.status.code == 204 else {
            throw HarnessError("PUT /_simulator/roles answered \(response.status.code)")
        }
    }

    @Test(
        "a HiddenMembership group read without Member.Read.Hidden fails closed before its members are listed; with it, members are read"
    )
    func hiddenMembershipAgainstSimulator() async throws {
        try await Harness.withSimulator(tenant: try Self.tenant(hiding: "PMO")) { simulator, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) {
                    try await $0.readTenant(attributes: [], groups: ["Engineering", "PMO"])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .membershipHidden && error.read.contains("'PMO'")
                    && error.message.contains("Member.Read.Hidden")
            }
            let pmo = try #require(Harness.tenant.groups.first { $0.displayName == "PMO" })
            #expect(
                !simulator.requestLog().contains { $0.path.contains("/groups/\(pmo.id)/transitiveMembers") },
                "no member listing of the hidden group"
            )

            try await Self.setRoles(
                ["User.Read.All", "GroupMember.Read.All", "Organization.Read.All", "Member.Read.Hidden"],
                endpoints
            )
            simulator.revokeTokens()
            let model = try await Harness.withSecretClient(endpoints) {
                try await $0.readTenant(attributes: [], groups: ["PMO"])
            }
            #expect(model.memberCount(ofGroup: 0) == Set(pmo.members).count)
            #expect(model.memberCount(ofGroup: 0) > 0)
        }
    }

    @Test(
        "a listing whose page links to itself ends the read with an error naming the page and the link",
        arguments: ["/users", "/transitiveMembers"]
    )
    func repeatingNextLinkAgainstSimulator(path: String) async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let fault = try JSONDecoder().decode(
                SimulatedFault.self,
                from: Data(#"{"kind": "repeatNextLink", "path": "\#(path)", "after": 0, "count": -1}"#.utf8)
            )
            simulator.addFault(fault)
            await #expect {
                try await Harness.withSecretClient(endpoints) {
                    try await $0.readTenant(attributes: [], groups: ["Engineering"])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .malformedResponse && error.message.contains("repeats")
                    && error.message.contains("@odata.nextLink")
            }
            let pages = simulator.requestLog().filter { $0.path.contains(path) }
            #expect(pages.count <= 3, "the loop is caught at once: \(pages.count) requests")
        }
    }
}

/// A test precondition that did not hold.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
