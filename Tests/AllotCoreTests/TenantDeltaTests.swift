import Foundation
import Testing

@testable import AllotCore

/// Applying a delta round to the tenant model in place (issue 12, "How it is checked"):
/// nested membership added and removed, cycles in nesting, deleted and new users, attribute
/// changes, and the affected users a fast pass plans.
@Suite("Tenant model: delta applied in place")
struct TenantDeltaTests {
    static let engineering = Fixture.id(1001)
    static let platform = Fixture.id(1002)  // nested in Engineering
    static let sales = Fixture.id(1003)  // not nested, not nesting
    static let unrelated = Fixture.id(1099)

    /// ada and bob in Engineering (bob through Platform), cy in Sales, dee in none.
    func tenant(nesting: [GUID: Set<GUID>] = [engineering: [platform]]) throws -> TenantModel {
        var builder = TenantBuilder(attributes: ["department", "accountEnabled"])
        builder.add(Fixture.e3(consumed: 1))
        builder.add(
            DirectoryGroup(id: Self.engineering, displayName: "Engineering", members: [Fixture.id(1), Fixture.id(2)]),
            nestedGroups: nesting[Self.engineering] ?? []
        )
        builder.add(
            DirectoryGroup(id: Self.sales, displayName: "Sales", members: [Fixture.id(3)]),
            nestedGroups: nesting[Self.sales] ?? []
        )
        for user in [
            Fixture.user(
                1,
                "ada",
                licenses: [Fixture.direct(Fixture.e3())],
                ["department": "R&D", "accountEnabled": true]
            ),
            Fixture.user(2, "bob", ["department": "R&D", "accountEnabled": true]),
            Fixture.user(3, "cy", ["department": "Sales", "accountEnabled": true]),
            Fixture.user(4, "dee", ["department": "Sales", "accountEnabled": false]),
        ] { builder.add(user) }
        return try builder.build()
    }

    func member(_ tenant: TenantModel, _ user: Int, of group: String) -> Bool {
        tenant.isMember(user: tenant.userIndex(for: Fixture.id(user))!, ofGroup: tenant.groups(matching: group)[0])
    }

    func userJoins(_ user: Int, _ group: GUID, added: Bool = true) -> TenantDelta {
        var delta = TenantDelta()
        delta.membership(MembershipChange(group: group, member: Fixture.id(user), memberKind: .user, added: added))
        return delta
    }

    @Test("a user added to a referenced group joins it")
    func directJoiner() throws {
        var tenant = try tenant()
        let delta = userJoins(4, Self.sales)
        let effect = tenant.effect(of: delta)
        #expect(effect.fullReadNeeded == nil)
        #expect(effect.affected == [Fixture.id(4): [.joined(group: "Sales")]])
        tenant.apply(delta)
        #expect(member(tenant, 4, of: "Sales"))
        #expect(!member(tenant, 4, of: "Engineering"))
    }

    @Test("a user added to a nested group joins the referenced group it is nested in")
    func nestedJoiner() throws {
        var tenant = try tenant()
        let delta = userJoins(4, Self.platform)
        #expect(tenant.effect(of: delta).affected == [Fixture.id(4): [.joined(group: "Engineering")]])
        tenant.apply(delta)
        #expect(member(tenant, 4, of: "Engineering"))
        #expect(
            member(tenant, 1, of: "Engineering") && member(tenant, 2, of: "Engineering"),
            "the others are untouched"
        )
    }

    @Test("a user removed from a group without nested groups leaves it")
    func leaver() throws {
        var tenant = try tenant()
        let delta = userJoins(3, Self.sales, added: false)
        #expect(tenant.effect(of: delta).affected == [Fixture.id(3): [.left(group: "Sales")]])
        tenant.apply(delta)
        #expect(!member(tenant, 3, of: "Sales"))
        #expect(tenant.memberCounts == [2, 0])
    }

    @Test("a removal from a group with nested groups, or nested in one, takes a full read")
    func nestedLeaver() throws {
        let tenant = try tenant()
        for group in [Self.platform, Self.engineering] {
            let effect = tenant.effect(of: userJoins(2, group, added: false))
            let why = try #require(effect.fullReadNeeded)
            #expect(why.contains("Engineering") && why.contains("nested"), "\(why)")
        }
    }

    @Test("nesting that changes under a referenced group takes a full read; elsewhere it is ignored")
    func nestingChanged() throws {
        let tenant = try tenant()
        var delta = TenantDelta()
        delta.membership(
            MembershipChange(group: Self.platform, member: Self.unrelated, memberKind: .group, added: true)
        )
        #expect(tenant.effect(of: delta).fullReadNeeded?.contains("Engineering") == true)
        var elsewhere = TenantDelta()
        elsewhere.membership(
            MembershipChange(group: Self.unrelated, member: Self.platform, memberKind: .group, added: true)
        )
        elsewhere.membership(
            MembershipChange(group: Self.unrelated, member: Fixture.id(4), memberKind: .user, added: true)
        )
        let effect = tenant.effect(of: elsewhere)
        #expect(effect.fullReadNeeded == nil && effect.affected.isEmpty)
    }

    @Test("groups nested in each other (a cycle) are credited once each, and the pass ends")
    func nestingCycle() throws {
        var tenant = try tenant(nesting: [
            Self.engineering: [Self.sales, Self.engineering], Self.sales: [Self.engineering],
        ])
        let delta = userJoins(4, Self.sales)
        #expect(
            tenant.effect(of: delta).affected == [
                Fixture.id(4): [.joined(group: "Engineering"), .joined(group: "Sales")]
            ]
        )
        tenant.apply(delta)
        #expect(member(tenant, 4, of: "Engineering") && member(tenant, 4, of: "Sales"))
    }

    @Test("deleted users leave the model; everyone else keeps their attributes, licenses and groups")
    func deletedUsers() throws {
        var tenant = try tenant()
        var delta = TenantDelta()
        delta.userRemoved(Fixture.id(2))
        delta.userRemoved(Fixture.id(77))  // unknown: nothing to do
        let effect = tenant.effect(of: delta)
        #expect(effect.deleted == [Fixture.id(2)] && effect.affected.isEmpty)
        tenant.apply(delta)
        #expect(tenant.userCount == 3)
        #expect(tenant.userIndex(for: Fixture.id(2)) == nil)
        let ada = try #require(tenant.userIndex(for: Fixture.id(1)))
        #expect(tenant.userPrincipalName(at: ada) == "ada@contoso.com")
        #expect(tenant.licenseHolding(ofUser: ada).directAssignment(of: Fixture.e3().skuId) != nil)
        let cy = try #require(tenant.userIndex(for: Fixture.id(3)))
        #expect(tenant.attribute("department", ofUser: cy) == .string("Sales"))
        #expect(member(tenant, 3, of: "Sales") && member(tenant, 1, of: "Engineering"))
        #expect(tenant.memberCounts == [1, 1])
    }

    @Test("a new user is inserted in id order, without licenses, with the groups delta reports")
    func createdUser() throws {
        var tenant = try tenant()
        var delta = TenantDelta()
        delta.userChanged(
            DirectoryUser(
                id: Fixture.id(0),
                userPrincipalName: "new@contoso.com",
                usageLocation: "GB",
                licenseAssignmentStates: nil,
                properties: ["department": "R&D", "accountEnabled": true]
            )
        )
        delta.membership(MembershipChange(group: Self.platform, member: Fixture.id(0), memberKind: .user, added: true))
        #expect(tenant.effect(of: delta).affected == [Fixture.id(0): [.joined(group: "Engineering"), .created]])
        tenant.apply(delta)
        #expect(tenant.userCount == 5)
        #expect(tenant.userIndex(for: Fixture.id(0)) == 0)
        #expect(tenant.userPrincipalName(at: 0) == "new@contoso.com")
        #expect(tenant.usageLocation(at: 0) == "GB")
        #expect(tenant.licenseHolding(ofUser: 0).assignedLicenses.isEmpty)
        #expect(member(tenant, 0, of: "Engineering"))
        #expect(tenant.userPrincipalName(at: tenant.userIndex(for: Fixture.id(4))!) == "dee@contoso.com")
    }

    @Test("a changed attribute makes the user affected and is set in place; an unchanged one does not")
    func attributeChanges() throws {
        var tenant = try tenant()
        var delta = TenantDelta()
        delta.userChanged(
            DirectoryUser(
                id: Fixture.id(3),
                userPrincipalName: "cy@contoso.com",
                usageLocation: "US",
                licenseAssignmentStates: nil,
                properties: ["department": "R&D", "accountEnabled": true]
            )
        )
        delta.userChanged(
            DirectoryUser(
                id: Fixture.id(4),
                userPrincipalName: "dee@contoso.com",
                usageLocation: "US",
                licenseAssignmentStates: nil,
                properties: ["department": "Sales", "accountEnabled": false]
            )
        )
        #expect(tenant.effect(of: delta).affected == [Fixture.id(3): [.attributesChanged]])
        tenant.apply(delta)
        let cy = try #require(tenant.userIndex(for: Fixture.id(3)))
        #expect(tenant.attribute("department", ofUser: cy) == .string("R&D"))
        #expect(member(tenant, 3, of: "Sales"), "membership is not an attribute")
    }

    @Test("a user read again replaces the licenses and user principal name the model holds")
    func licensesRead() throws {
        var tenant = try tenant()
        tenant.update([
            Fixture.user(
                2,
                "robert",
                licenses: [Fixture.direct(Fixture.e3())],
                ["department": "R&D", "accountEnabled": true]
            ),
            Fixture.user(99, "nobody"),
        ])
        let bob = try #require(tenant.userIndex(for: Fixture.id(2)))
        #expect(tenant.userPrincipalName(at: bob) == "robert@contoso.com")
        #expect(tenant.licenseHolding(ofUser: bob).directAssignment(of: Fixture.e3().skuId) != nil)
        #expect(tenant.userPrincipalName(at: bob + 1) == "cy@contoso.com")
        #expect(tenant.userCount == 4)
    }

    @Test("the planner plans only the users asked for, with the same rules")
    func plansOnlyAffectedUsers() throws {
        var tenant = try tenant()
        let delta = userJoins(4, Self.platform)
        tenant.apply(delta)
        let policies = [
            Fixture.policy(
                "engineering",
                match: Policy.Match(groups: [Reference("Engineering")]),
                grants: [Fixture.grant("SPE_E3")]
            )
        ]
        let dee = try #require(tenant.userIndex(for: Fixture.id(4)))
        let plan = try Fixture.plan(tenant, policies, options: PlanningOptions(onlyUsers: [dee]))
        #expect(
            plan.changes.map(\.userPrincipalName) == ["dee@contoso.com"],
            "bob (drifted, not asked for) is left to the full cycle"
        )
        let everyone = try Fixture.plan(tenant, policies)
        #expect(everyone.changes.map(\.userPrincipalName) == ["bob@contoso.com", "dee@contoso.com"])
    }

    @Test("removals already sent by fast passes count towards the guard")
    func guardCountsEarlierRemovals() throws {
        var tenant = try tenant(nesting: [:])
        tenant.apply(userJoins(1, Self.engineering, added: false))
        let policies = [
            Fixture.policy(
                "engineering",
                match: Policy.Match(groups: [Reference("Engineering")]),
                grants: [Fixture.grant("SPE_E3")]
            )
        ]
        let ada = try #require(tenant.userIndex(for: Fixture.id(1)))
        let settings = Fixture.settings(maxRemovals: 3)
        let alone = try Fixture.plan(tenant, policies, settings, options: PlanningOptions(onlyUsers: [ada]))
        #expect(alone.summary.removals == 1 && !alone.guardrail.tripped)
        let after = try Fixture.plan(
            tenant,
            policies,
            settings,
            options: PlanningOptions(onlyUsers: [ada], removalsAlreadySent: 3)
        )
        #expect(after.guardrail.tripped && after.summary.removals == 0)
        #expect(
            after.guardrail.reason?.contains("3 of them sent by fast passes") == true,
            "\(after.guardrail.reason ?? "")"
        )
    }
}
