import AllotCore
import AllotSimulator
import Foundation
import Logging
import Testing

@testable import AllotGraph

@Suite("Tenant read against the simulator")
struct ReadTests {
    static let attributes = [
        "accountEnabled", "userType", "department", "jobTitle", "country",
        "onPremisesExtensionAttributes.extensionAttribute1",
    ]
    static let groups = ["Engineering", "frontline workers", "PMO", "License Exempt"]

    @Test("a full read returns every user, group member and SKU, in the fewest requests")
    func fullRead() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let progress = Recorder<ReadProgress>()
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: Self.attributes, groups: Self.groups) { progress.append($0) }
            }
            let truth = simulator.currentTenant()
            #expect(model.userCount == truth.users.count)
            #expect(model.subscribedSkus.count == truth.subscribedSkus.count)
            #expect(model.tenant == SampleTenant.tenantDomain)
            for reference in Self.groups {
                let index = try #require(model.groups(matching: reference).first)
                let expected = try #require(
                    truth.groups.first { $0.displayName.lowercased() == reference.lowercased() }
                )
                #expect(model.memberCount(ofGroup: index) == Set(expected.members).count, "members of \(reference)")
            }
            // Every user's kept attributes and licenses are Graph's.
            let byId = Dictionary(uniqueKeysWithValues: truth.users.map { ($0.id, $0) })
            for index in stride(from: 0, to: model.userCount, by: 97) {
                let user = try #require(byId[model.userID(at: index)])
                #expect(model.userPrincipalName(at: index) == user.userPrincipalName)
                #expect(model.usageLocation(at: index) == user.usageLocation)
                #expect(
                    model.licenseHolding(ofUser: index)
                        == LicenseHolding(assignedLicenses: user.assignedLicenses, states: user.licenseAssignmentStates)
                )
                for path in Self.attributes {
                    let expected = user.property(at: path)
                    let actual = model.attribute(path, ofUser: index)
                    #expect(
                        actual == (expected.flatMap { $0 == .null || $0 == .string("") ? nil : $0 }),
                        "\(path) of \(user.userPrincipalName)"
                    )
                }
            }
            let log = simulator.requestLog()
            let userPages = log.filter { $0.path.hasPrefix("/v1.0/users") }
            #expect(userPages.count == (truth.users.count + 998) / 999)
            #expect(userPages.first?.path.contains("$top=999") == true)
            #expect(
                userPages.first?.path.contains(
                    "$select=id,userPrincipalName,usageLocation,assignedLicenses,licenseAssignmentStates,accountEnabled,userType,department,jobTitle,country,onPremisesExtensionAttributes"
                ) == true
            )
            #expect(log.filter { $0.path.hasPrefix("/v1.0/subscribedSkus") }.count == 1)
            #expect(log.allSatisfy { $0.userAgent == "allot/\(AllotVersion.current)" })
            let ids = log.compactMap(\.clientRequestId)
            #expect(ids.count == log.count && Set(ids).count == ids.count, "a fresh client-request-id on every request")
            #expect(log.filter { $0.path.contains("/oauth2/v2.0/token") }.count == 1, "one token for the whole read")
            let last = try #require(progress.all.max { $0.users < $1.users })
            #expect(last.users == truth.users.count)
            #expect(last.userPages == userPages.count)
        }
    }

    @Test("sign-in activity is selected only when asked for, then read 500 users a page")
    func signInActivityPages() async throws {
        let attributes = ["signInActivity.lastSuccessfulSignInDateTime"]
        try await Harness.withSimulator(configure: Self.grantAuditLogs) { simulator, endpoints in
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: attributes, groups: [])
            }
            let userPages = simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/users") }
            // The lower bound of requests: ceil(users / 500) pages.
            #expect(userPages.count == (model.userCount + 499) / 500)
            #expect(userPages.allSatisfy { $0.status == 200 })
            #expect(userPages.first?.path.contains("$top=500") == true)
            #expect(userPages.first?.path.contains("signInActivity") == true)
        }
    }

    @Test("Graph refusing sign-in activity fails the read, naming AuditLog.Read.All or the missing P1")
    func signInActivityRefused() async throws {
        let attributes = ["signInActivity.lastSignInDateTime"]
        try await Harness.withSimulator { _, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) { client in
                    try await client.readTenant(attributes: attributes, groups: [])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .signInActivityRefused && error.request?.status == 403
                    && "\(error)".contains("lacks the AuditLog.Read.All permission")
                    && "\(error)".contains("deploy/app-registration.md")
            }
        }
        try await Harness.withSimulator(configure: {
            Self.grantAuditLogs(&$0); $0.entraIDPremium = false
        }) { _, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) { client in
                    try await client.readTenant(attributes: attributes, groups: [])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .signInActivityRefused && "\(error)".contains("no Microsoft Entra ID P1")
            }
        }
    }

    /// Grants Allot's application `AuditLog.Read.All`, which the simulator's default roles lack.
    static func grantAuditLogs(_ configuration: inout SimulatorConfiguration) {
        for index in configuration.applications.indices {
            configuration.applications[index].roles.insert("AuditLog.Read.All")
        }
    }

    @Test("a page failing in the middle fails the read, naming the page")
    func failingPage() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            simulator.addFault(SimulatedFault(kind: .failPage, path: "/users", after: 1, count: -1))
            await #expect {
                try await Harness.withSecretClient(endpoints) { client in
                    try await client.readTenant(attributes: Self.attributes, groups: Self.groups)
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .incomplete && error.read == "users page 2" && error.request?.status == 503
                    && "\(error)".contains("users page 2")
            }
        }
    }

    @Test("a page failing once is retried and the read completes")
    func pageRetried() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            simulator.addFault(SimulatedFault(kind: .failPage, path: "/users", after: 1, count: 1))
            simulator.addFault(SimulatedFault(kind: .serverError, path: "/subscribedSkus", count: 2, status: 502))
            simulator.addFault(SimulatedFault(kind: .dropConnection, path: "/transitiveMembers", count: 1))
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: [], groups: ["Engineering"])
            }
            #expect(model.userCount == Harness.tenant.users.count)
            let log = simulator.requestLog()
            #expect(log.filter { $0.path.hasPrefix("/v1.0/subscribedSkus") }.map(\.status) == [502, 502, 200])
            #expect(log.filter { $0.path.hasPrefix("/v1.0/users") && $0.status == 503 }.count == 1)
        }
    }

    @Test("a token revoked mid-read is refreshed once and the read completes")
    func tokenRefreshedMidRead() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let revoked = Recorder<Bool>()
            let model = try await Harness.withSecretClient(endpoints) { client in
                try await client.readTenant(attributes: [], groups: []) { progress in
                    if progress.userPages == 1, revoked.all.isEmpty {
                        revoked.append(true)
                        simulator.revokeTokens()
                    }
                }
            }
            #expect(model.userCount == Harness.tenant.users.count)
            let log = simulator.requestLog()
            #expect(log.filter { $0.path.contains("/oauth2/v2.0/token") }.count == 2)
            #expect(log.filter { $0.status == 401 }.count <= 2)
            #expect(
                log.filter { $0.path.hasPrefix("/v1.0/users") && $0.status == 200 }.count
                    == (Harness.tenant.users.count + 998) / 999
            )
        }
    }

    @Test("a short-lived token is replaced before it expires, without a 401")
    func proactiveRefresh() async throws {
        // The token cache's clock is moved on instead of waited for: a 10-minute token is due at
        // 8 minutes (80 %); the simulator's tokens expire by the real time, long after this test.
        let clock = ManualSimulatorClock()
        try await Harness.withSimulator(configure: { $0.tokenLifetime = .seconds(600) }) { simulator, endpoints in
            try await Harness.withSecretClient(endpoints, adjust: { $0.tokenClock = { clock.now } }) { client in
                _ = try await client.readTenant(attributes: [], groups: [])
                clock.advance(by: .seconds(479))
                _ = try await client.readTenant(attributes: [], groups: [])
                #expect(
                    simulator.requestLog().filter { $0.path.contains("/oauth2/v2.0/token") }.count == 1,
                    "not due before 80 %"
                )
                clock.advance(by: .seconds(2))
                _ = try await client.readTenant(attributes: [], groups: [])
            }
            let log = simulator.requestLog()
            let tokenRequests = log.indices.filter { log[$0].path.contains("/oauth2/v2.0/token") }
            #expect(tokenRequests.count == 2, "replaced once, at 80 % of its lifetime")
            #expect(log.allSatisfy { $0.status != 401 })
            let lastRead = try #require(log.lastIndex { $0.path.hasPrefix("/v1.0/users") })
            #expect(tokenRequests.last! < lastRead, "the third read went out with the new token")
        }
    }

    @Test("a token refused again after the refresh surfaces the 401")
    func unauthorizedTwice() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            final class Revoking: TokenProvider {
                let simulator: GraphSimulator
                let inner: CachingTokenProvider
                init(simulator: GraphSimulator, inner: CachingTokenProvider) {
                    self.simulator = simulator
                    self.inner = inner
                }
                func token(rejecting rejected: String?) async throws -> String {
                    let token = try await inner.token(rejecting: rejected)
                    simulator.revokeTokens()
                    return token
                }
            }
            let directory = try TestDirectory()
            let file = try directory.write("secret", Harness.secret)
            let configuration = Harness.configuration(endpoints, credential: .clientSecretFile(file))
            let bootstrap = try GraphClient(configuration: configuration, logger: .init(label: "t"))
            let provider = Revoking(simulator: simulator, inner: bootstrap.tokens as! CachingTokenProvider)
            await #expect {
                try await GraphClient.withGraphClient(
                    configuration: configuration,
                    logger: .init(label: "t"),
                    tokenProvider: provider
                ) {
                    try await $0.readTenant(attributes: [], groups: [])
                }
            } throws: { error in
                (error as? GraphReadError)?.request?.status == 401
            }
            try await bootstrap.shutdown()
            #expect(
                simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/users") }.count <= 2,
                "one refresh, then the 401 surfaces"
            )
        }
    }

    @Test("a group name that matches nothing fails the read")
    func groupNotFound() async throws {
        try await Harness.withSimulator { _, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) {
                    try await $0.readTenant(attributes: [], groups: ["Enginering"])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .groupNotFound && error.read == "group 'Enginering'"
            }
        }
    }

    @Test("a group id that does not exist fails the read")
    func groupIdNotFound() async throws {
        try await Harness.withSimulator { _, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) {
                    try await $0.readTenant(attributes: [], groups: ["0badc0de-0000-4000-8000-000000000000"])
                }
            } throws: { ($0 as? GraphReadError)?.reason == .groupNotFound }
        }
    }

    @Test("a group name that matches two groups fails the read; its id works")
    func groupAmbiguous() async throws {
        var tenant = Harness.tenant
        let original = try #require(tenant.groups.first { $0.displayName == "PMO" })
        let twin = DirectoryGroup(
            id: GUID("0badc0de-0000-4000-8000-000000000001")!,
            displayName: "pmo",
            members: Array(original.members.prefix(3))
        )
        tenant.groups.append(twin)
        try await Harness.withSimulator(tenant: tenant) { _, endpoints in
            await #expect {
                try await Harness.withSecretClient(endpoints) {
                    try await $0.readTenant(attributes: [], groups: ["PMO"])
                }
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                return error.reason == .groupAmbiguous && "\(error)".contains(twin.id.description)
            }
            let model = try await Harness.withSecretClient(endpoints) {
                try await $0.readTenant(attributes: [], groups: [twin.id.description, original.id.description])
            }
            #expect(model.groups.count == 2)
            #expect(model.memberCount(ofGroup: model.groups(matching: twin.id.description)[0]) == 3)
        }
    }

    @Test("a display name with quotes is escaped in the filter")
    func quotedGroupName() async throws {
        var tenant = Harness.tenant
        let quoted = DirectoryGroup(
            id: GUID("0badc0de-0000-4000-8000-000000000002")!,
            displayName: "R&D 'Labs'",
            members: [tenant.users[0].id]
        )
        tenant.groups.append(quoted)
        try await Harness.withSimulator(tenant: tenant) { _, endpoints in
            let model = try await Harness.withSecretClient(endpoints) {
                try await $0.readTenant(attributes: [], groups: ["R&D 'Labs'"])
            }
            #expect(model.groups.map(\.id) == [quoted.id])
            #expect(model.memberCount(ofGroup: 0) == 1)
        }
    }
}
