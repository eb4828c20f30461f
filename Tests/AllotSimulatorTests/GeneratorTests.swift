import AllotCore
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Tenant generator: determinism and realism")
struct GeneratorTests {
    static let size = 20_000
    /// Generated with the default drift (5 %): `drift(percent: 5)` compares it with `converged`.
    static let tenant = TenantGenerator(users: size, seed: 42).generate()
    /// The same tenant without drift, generated once for both drift cases.
    static let converged = TenantGenerator(users: size, seed: 42, driftPercent: 0).generate()

    static func share(_ predicate: (DirectoryUser) -> Bool) -> Double {
        Double(tenant.users.filter(predicate).count) / Double(tenant.users.count)
    }

    @Test("the same seed gives the same tenant; another seed another one")
    func determinism() throws {
        let first = TenantGenerator(users: 2000, seed: 7).generate()
        let second = TenantGenerator(users: 2000, seed: 7).generate()
        #expect(first == second)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(first) == encoder.encode(second))
        let other = TenantGenerator(users: 2000, seed: 8).generate()
        #expect(other.users.map(\.id) != first.users.map(\.id))
    }

    @Test("streaming into the simulator gives the same tenant as the snapshot")
    func streamingMatchesSnapshot() {
        let generator = TenantGenerator(users: 1500, seed: 3)
        let streamed = GraphSimulator(generator: generator, configuration: SimulatorConfiguration()).currentTenant()
        var expected = generator.generate()
        expected.tenant = streamed.tenant
        #expect(streamed.users == expected.users)
        #expect(streamed.groups == expected.groups)
        #expect(streamed.subscribedSkus.map(\.consumedUnits) == expected.subscribedSkus.map(\.consumedUnits))
        #expect(streamed.subscribedSkus.map(\.prepaidUnits) == expected.subscribedSkus.map(\.prepaidUnits))
    }

    @Test(
        "one hidden-membership group only when asked; the tenant is otherwise the same, and by default no group has a visibility"
    )
    func hiddenMembershipGroup() throws {
        let plain = TenantGenerator(users: 500, seed: 5).generate()
        let hidden = TenantGenerator(users: 500, seed: 5, hiddenMembershipGroup: "engineering").generate()
        #expect(plain.groups.allSatisfy { $0.visibility == nil })
        let encoded = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(!encoded.contains("visibility"), "default tenants are unchanged, byte for byte")
        #expect(
            hidden.groups.filter { $0.visibility != nil }.map(\.displayName) == [SampleTenant.GroupName.engineering]
        )
        #expect(
            hidden.groups.first { $0.displayName == SampleTenant.GroupName.engineering }?.visibility
                == "HiddenMembership"
        )
        var unhidden = hidden
        unhidden.groups = unhidden.groups.map { group in
            var group = group
            group.visibility = nil
            return group
        }
        #expect(unhidden == plain)
        let streamed = GraphSimulator(
            generator: TenantGenerator(users: 500, seed: 5, hiddenMembershipGroup: "Engineering"),
            configuration: SimulatorConfiguration()
        )
        #expect(streamed.currentTenant().groups == hidden.groups)
    }

    @Test("shares: 2 % without usage location, 3 % guests, 4 % disabled")
    func shares() {
        let noLocation = Self.share { $0.usageLocation == nil }
        let guests = Self.share { $0.properties["userType"] == .string("Guest") }
        let disabled = Self.share { $0.properties["accountEnabled"] == .bool(false) }
        #expect((0.015...0.025).contains(noLocation), "\(noLocation)")
        #expect((0.025...0.035).contains(guests), "\(guests)")
        #expect((0.034...0.046).contains(disabled), "\(disabled)")
    }

    @Test("users look real: departments, titles, countries, unique names, guests in guest form, break-glass present")
    func users() {
        let users = Self.tenant.users
        #expect(Set(users.map { $0.userPrincipalName.lowercased() }).count == users.count)
        #expect(users.contains { $0.userPrincipalName == SampleTenant.breakGlassUser })
        let departments = Set(users.compactMap { $0.properties["department"]?.stringValue })
        #expect(departments == Set(TenantGenerator.departments.map(\.name)))
        let countries = Set(users.compactMap { $0.properties["country"]?.stringValue })
        #expect(countries == Set(TenantGenerator.countries.map(\.code)))
        let guests = users.filter { $0.properties["userType"] == .string("Guest") }
        #expect(guests.allSatisfy { $0.userPrincipalName.contains("_fabrikam.com#EXT#@contoso.onmicrosoft.com") })
        let architects = users.filter { ($0.properties["jobTitle"]?.stringValue ?? "").hasSuffix("Architect") }
        let tagged = architects.filter {
            $0.property(at: "onPremisesExtensionAttributes.extensionAttribute1") == .string("VISIO")
        }
        #expect(Double(tagged.count) / Double(architects.count) > 0.6)
        #expect(users.filter { $0.properties["jobTitle"] == .string("Store Associate") }.count > Self.size / 10)
    }

    @Test("groups: Engineering nests Platform and Data Engineering; GBL members hold E3 through the group")
    func groups() throws {
        let groups = Dictionary(uniqueKeysWithValues: Self.tenant.groups.map { ($0.displayName, $0) })
        #expect(groups.count == 20)
        let engineering = try #require(groups["Engineering"])
        let platform = try #require(groups["Platform Engineering"])
        let data = try #require(groups["Data Engineering"])
        #expect(Set(engineering.memberGroups ?? []) == [platform.id, data.id])
        #expect(Set(platform.members).isSubset(of: Set(engineering.members)))
        #expect(Set(data.members).isSubset(of: Set(engineering.members)))
        let exempt = try #require(groups["License Exempt"])
        let breakGlass = try #require(Self.tenant.users.first { $0.userPrincipalName == SampleTenant.breakGlassUser })
        #expect(exempt.members.contains(breakGlass.id))
        for name in ["Frontline Workers", "PMO"] { #expect(groups[name]?.members.isEmpty == false) }

        let gbl = try #require(groups["GBL - Microsoft 365 E3"])
        let e3 = Fixture.e3
        let byId = Dictionary(uniqueKeysWithValues: Self.tenant.users.map { ($0.id, $0) })
        var errors = 0
        for member in gbl.members {
            let states = byId[member]?.licenseAssignmentStates ?? []
            let state = try #require(states.first { $0.assignedByGroup == gbl.id })
            #expect(state.skuId == e3)
            if state.state == "Error" {
                errors += 1
                #expect(state.error == "CountViolation")
            }
        }
        #expect(errors > 0 && errors < gbl.members.count / 10)
    }

    @Test("drift: about the configured share of users differ from the converged tenant", arguments: [5.0, 20.0])
    func drift(percent: Double) {
        let converged = Self.converged
        // The generator is deterministic (`determinism`): at the default drift the drifted
        // tenant is `tenant`, already generated.
        let defaultDrift = TenantGenerator(users: Self.size, seed: 42).driftPercent
        let drifted =
            percent == defaultDrift
            ? Self.tenant : TenantGenerator(users: Self.size, seed: 42, driftPercent: percent).generate()
        #expect(converged.users.map(\.id) == drifted.users.map(\.id))
        let differing = zip(converged.users, drifted.users).filter {
            $0.licenseAssignmentStates != $1.licenseAssignmentStates
        }.count
        let share = Double(differing) / Double(Self.size) * 100
        #expect(share > percent * 0.8 && share <= percent * 1.05, "\(share) % differ, asked for \(percent) %")
        let engineersOnE3 = zip(converged.users, drifted.users).filter { old, new in
            old.assignedLicenses.contains { $0.skuId == Fixture.e5 }
                && !new.assignedLicenses.contains { $0.skuId == Fixture.e5 }
                && new.assignedLicenses.contains { $0.skuId == Fixture.e3 }
        }
        #expect(!engineersOnE3.isEmpty)
    }

    @Test("seats: enough for every managed SKU except POWER_BI_PRO, a few short; consumed units match holders")
    func seats() {
        for sku in Self.tenant.subscribedSkus {
            let holders = Self.tenant.users.filter { $0.assignedLicenses.contains { $0.skuId == sku.skuId } }.count
            #expect(sku.consumedUnits == holders, "\(sku.skuPartNumber)")
        }
        let powerBI = Self.tenant.subscribedSkus.first { $0.skuPartNumber == "POWER_BI_PRO" }!
        let wanting = Self.tenant.users.filter { user in
            let title = user.properties["jobTitle"]?.stringValue?.lowercased() ?? ""
            let department = user.properties["department"]?.stringValue ?? ""
            let enabled = user.properties["accountEnabled"] == .bool(true)
            let country = user.properties["country"]?.stringValue ?? ""
            return (["Finance", "Sales Operations"].contains(department) && enabled)
                || (title.split(separator: " ").contains("analyst") && !["CN", "RU"].contains(country))
        }.count
        #expect(powerBI.prepaidUnits.enabled < wanting)
        #expect(powerBI.prepaidUnits.enabled > wanting - wanting / 20)
        let e5 = Self.tenant.subscribedSkus.first { $0.skuPartNumber == "SPE_E5" }!
        #expect(e5.prepaidUnits.enabled > e5.consumedUnits)
    }
}
