import AllotCore
import AllotSimulator
import Foundation
import Logging
import Testing

@testable import AllotGraph

@Suite("Writes against the simulator")
struct WriteTests {
    /// Picks users and SKUs from the generated tenant for the write tests.
    struct Fixture {
        let tenant: Snapshot
        let sku: SubscribedSku
        let licensable: [DirectoryUser]
        let withoutUsageLocation: DirectoryUser
        let groupOnly: (user: DirectoryUser, sku: GUID)

        /// The generated tenant with room on VISIOCLIENT (whose plans clash with nothing) for the writes.
        init(_ base: Snapshot = Harness.tenant) throws {
            var tenant = base
            let visio = try #require(tenant.subscribedSkus.firstIndex { $0.skuPartNumber == "VISIOCLIENT" })
            tenant.subscribedSkus[visio].prepaidUnits.enabled = tenant.subscribedSkus[visio].consumedUnits + 500
            self.tenant = tenant
            sku = tenant.subscribedSkus[visio]
            let skuId = sku.skuId
            licensable = tenant.users.filter { user in
                user.usageLocation != nil && !user.assignedLicenses.contains { $0.skuId == skuId }
            }
            withoutUsageLocation = try #require(
                tenant.users.first { $0.usageLocation == nil && !$0.assignedLicenses.contains { $0.skuId == skuId } }
            )
            let inherited = try #require(
                tenant.users.lazy.compactMap { user -> (DirectoryUser, GUID)? in
                    guard let states = user.licenseAssignmentStates,
                        let state = states.first(where: { !$0.isDirect && $0.state == "Active" }),
                        !states.contains(where: { $0.isDirect && $0.skuId == state.skuId })
                    else { return nil }
                    return (user, state.skuId)
                }.first
            )
            groupOnly = inherited
        }

        func add(_ user: DirectoryUser) -> GraphWrite {
            .assignLicense(user: user.id, body: AssignLicenseBody(addLicenses: [AssignedLicense(skuId: sku.skuId)]))
        }
    }

    @Test(
        "assignLicense and the usage-location PATCH are applied through parallel $batch requests, the license call after its PATCH"
    )
    func applied() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            let writes: [GraphWrite] = [
                fixture.add(fixture.licensable[0]),
                fixture.add(fixture.withoutUsageLocation),
                .setUsageLocation(user: fixture.withoutUsageLocation.id, code: "NL"),
                fixture.add(fixture.licensable[1]),
            ]
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(writes) }
            #expect(results.map(\.write) == writes)
            #expect(results.allSatisfy { $0.isApplied }, "\(results.map(\.outcome))")
            let users = Harness.users(of: simulator)
            #expect(users[fixture.withoutUsageLocation.id]?.usageLocation == "NL")
            for user in [fixture.licensable[0], fixture.licensable[1], fixture.withoutUsageLocation] {
                #expect(users[user.id]?.assignedLicenses.contains { $0.skuId == fixture.sku.skuId } == true)
            }
            // Graph refuses batches that mix dependsOn with independent requests: the license call
            // waits for its PATCH's answer and goes in the next batch.
            let batches = simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/$batch") }
            #expect(batches.map { $0.batchItems?.count } == [3, 1])
            #expect(batches.first?.batchItems?.contains { $0.method == "PATCH" } == true)
            #expect(batches.last?.batchItems?.first?.url == "/users/\(fixture.withoutUsageLocation.id)/assignLicense")
        }
    }

    @Test("more than 20 writes go in batches of at most 20")
    func batching() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            let writes = fixture.licensable.prefix(33).map(fixture.add)
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(Array(writes)) }
            #expect(results.allSatisfy { $0.isApplied })
            let sizes = simulator.requestLog().compactMap { $0.batchItems?.count }
            #expect(sizes.sorted() == [13, 20])
        }
    }

    @Test("a throttled batch item is retried alone after its Retry-After")
    func throttledItem() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            simulator.addFault(
                SimulatedFault(kind: .throttle, path: "/assignLicense", after: 2, count: 1, retryAfterSeconds: 1)
            )
            let writes = fixture.licensable.prefix(5).map(fixture.add)
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(Array(writes)) }
            #expect(results.allSatisfy { $0.isApplied }, "\(results.map(\.outcome))")
            let batches = simulator.requestLog().filter { $0.batchItems != nil }
            #expect(batches.count == 2)
            let first = try #require(batches.first?.batchItems)
            #expect(first.count == 5)
            let throttled = try #require(first.first { $0.status == 429 })
            let retry = try #require(batches.last?.batchItems)
            #expect(retry.count == 1, "only the throttled item is sent again")
            #expect(retry.first?.url == throttled.url)
            #expect(retry.first?.status == 200)
        }
    }

    @Test("5xx items and a dropped connection are retried with backoff")
    func serverErrors() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            simulator.addFault(SimulatedFault(kind: .serverError, path: "/assignLicense", count: 2, status: 503))
            simulator.addFault(SimulatedFault(kind: .dropConnection, method: "POST", path: "/$batch", count: 1))
            let writes = fixture.licensable.prefix(3).map(fixture.add)
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(Array(writes)) }
            #expect(results.allSatisfy { $0.isApplied }, "\(results.map(\.outcome))")
            let users = Harness.users(of: simulator)
            for write in writes {
                #expect(users[write.user]?.assignedLicenses.contains { $0.skuId == fixture.sku.skuId } == true)
            }
        }
    }

    @Test("refused writes are classified, keep Graph's code and message, and are not retried")
    func classified() async throws {
        var tenant = try Fixture().tenant
        let seatless = try #require(tenant.subscribedSkus.firstIndex { $0.skuPartNumber == "POWER_BI_PRO" })
        let seatlessId = tenant.subscribedSkus[seatless].skuId
        let holders = tenant.users.filter { $0.assignedLicenses.contains { $0.skuId == seatlessId } }.count
        tenant.subscribedSkus[seatless].prepaidUnits.enabled = holders
        tenant.subscribedSkus[seatless].consumedUnits = holders
        let fixture = try Fixture(tenant)
        let noSeatUser = try #require(
            tenant.users.first { user in
                user.usageLocation != nil && !user.assignedLicenses.contains { $0.skuId == seatlessId }
            }
        )
        let unknownSku = GUID("0badc0de-0000-4000-8000-00000000005c")!
        try await Harness.withSimulator(tenant: tenant) { simulator, endpoints in
            let writes: [GraphWrite] = [
                fixture.add(fixture.withoutUsageLocation),
                .assignLicense(
                    user: noSeatUser.id,
                    body: AssignLicenseBody(addLicenses: [AssignedLicense(skuId: seatlessId)])
                ),
                .assignLicense(
                    user: fixture.licensable[0].id,
                    body: AssignLicenseBody(addLicenses: [AssignedLicense(skuId: unknownSku)])
                ),
                .assignLicense(
                    user: fixture.groupOnly.user.id,
                    body: AssignLicenseBody(removeLicenses: [fixture.groupOnly.sku])
                ),
            ]
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(writes) }
            let errors = results.map { result -> GraphWriteError? in
                if case .failed(let error) = result.outcome { error } else { nil }
            }
            #expect(errors.map { $0?.kind } == [.usageLocation, .noSeats, .unknownSku, .inheritedOnly])
            for error in errors.compactMap({ $0 }) {
                #expect(error.status == 400)
                #expect(error.code == "Request_BadRequest")
                #expect(!error.message.isEmpty)
                #expect(error.clientRequestId != nil)
            }
            #expect(errors[1]?.message.contains("does not have any available licenses") == true)
            #expect(simulator.requestLog().filter { $0.batchItems != nil }.count == 1, "4xx are not retried")
        }
    }

    @Test("a failed PATCH fails the license call that depends on it, which is never sent")
    func dependencyFailed() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            let user = fixture.withoutUsageLocation
            let writes: [GraphWrite] = [.setUsageLocation(user: user.id, code: "ZZZ"), fixture.add(user)]
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(writes) }
            guard case .failed(let patchError) = results[0].outcome, case .failed(let licenseError) = results[1].outcome
            else {
                Issue.record("both writes should fail: \(results.map(\.outcome))")
                return
            }
            #expect(patchError.status == 400)
            #expect(licenseError.kind == .dependencyFailed)
            #expect(licenseError.status == nil)
            #expect(licenseError.message.contains("PATCH /users/{id} failed"))
            #expect(
                !simulator.requestLog().contains {
                    $0.batchItems?.contains { $0.url.hasSuffix("/assignLicense") } == true
                }
            )
        }
    }

    @Test("writes stay inside the write quota: paced, never throttled")
    func quotaRespected() async throws {
        let fixture = try Fixture()
        let quota = SimulatedWriteQuota(writes: 20, window: .seconds(1))
        try await Harness.withSimulator(tenant: fixture.tenant, configure: { $0.writeQuota = quota }) {
            simulator,
            endpoints in
            let writes = fixture.licensable.prefix(40).map(fixture.add)
            let results = try await Harness.withSecretClient(
                // A tenth below the server's quota, so that arrival jitter on a busy machine cannot tip a window over.
                endpoints,
                adjust: { $0.writeQuota = AllotConfiguration.WriteQuota(writes: 18, window: .seconds(1)) }
            ) { await $0.apply(Array(writes)) }
            #expect(results.allSatisfy { $0.isApplied })
            let items = simulator.requestLog().flatMap { $0.batchItems ?? [] }
            #expect(items.count == 40)
            #expect(items.allSatisfy { $0.status != 429 })
        }
    }

    @Test("a throttled write quota is respected after the simulator throttles")
    func quotaThrottled() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(
            tenant: fixture.tenant,
            configure: { $0.writeQuota = SimulatedWriteQuota(writes: 10, window: .seconds(1)) }
        ) { simulator, endpoints in
            let writes = fixture.licensable.prefix(25).map(fixture.add)
            let results = try await Harness.withSecretClient(endpoints) { await $0.apply(Array(writes)) }
            #expect(results.allSatisfy { $0.isApplied }, "\(results.map(\.outcome))")
            let items = simulator.requestLog().flatMap { $0.batchItems ?? [] }
            #expect(items.filter { $0.status == 200 }.count == 25)
        }
    }

    @Test("cancelled, apply finishes the batch in flight and sends nothing more")
    func cancellation() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            simulator.addFault(SimulatedFault(kind: .latency, path: "/$batch", count: -1, delayMilliseconds: 400))
            let writes = fixture.licensable.prefix(30).map(fixture.add)
            let directory = try TestDirectory()
            var configuration = Harness.configuration(
                endpoints,
                credential: .clientSecretFile(try directory.write("s", Harness.secret))
            )
            // A burst of exactly 20 writes, then one write every 200 s: the second batch cannot start during the test.
            configuration.writeQuota = AllotConfiguration.WriteQuota(writes: 23, window: .seconds(600))
            configuration.writeHeadroom = 0.1
            let bootstrap = try GraphClient(configuration: configuration, logger: Logger(label: "t"))
            let tokenAsked = AsyncStream<Void>.makeStream()
            let provider = SignallingProvider(inner: bootstrap.tokens, signal: tokenAsked.continuation)
            let results = try await GraphClient.withGraphClient(
                configuration: configuration,
                logger: Logger(label: "t"),
                tokenProvider: provider
            ) { client in
                let task = Task { await client.apply(Array(writes)) }
                // The first batch asks for its token right before it is sent; it then stays in flight for 400 ms.
                var signals = tokenAsked.stream.makeAsyncIterator()
                _ = await signals.next()
                try await Task.sleep(for: .milliseconds(100))
                task.cancel()
                return await task.value
            }
            try await bootstrap.shutdown()
            let applied = results.filter(\.isApplied).count
            let notSent = results.filter { if case .notSent = $0.outcome { true } else { false } }.count
            #expect(applied == 20, "the batch in flight finished")
            #expect(notSent == 10)
            #expect(simulator.requestLog().filter { $0.batchItems != nil }.count == 1)
        }
    }
    @Test("apply calls on one client share its write quota: a second call gets no fresh burst")
    func quotaSharedAcrossCalls() async throws {
        let fixture = try Fixture()
        try await Harness.withSimulator(tenant: fixture.tenant) { simulator, endpoints in
            let directory = try TestDirectory()
            var configuration = Harness.configuration(
                endpoints,
                credential: .clientSecretFile(try directory.write("s", Harness.secret))
            )
            // A burst of exactly 20 writes, then one write every 200 s.
            configuration.writeQuota = AllotConfiguration.WriteQuota(writes: 23, window: .seconds(600))
            configuration.writeHeadroom = 0.1
            let (first, second) = try await GraphClient.withGraphClient(
                configuration: configuration,
                logger: Logger(label: "t")
            ) { client in
                let first = await client.apply(fixture.licensable.prefix(20).map(fixture.add))
                let task = Task { await client.apply(fixture.licensable.dropFirst(20).prefix(10).map(fixture.add)) }
                try await Task.sleep(for: .milliseconds(500))
                task.cancel()
                return (first, await task.value)
            }
            #expect(first.allSatisfy { $0.isApplied })
            #expect(
                second.allSatisfy { if case .notSent = $0.outcome { true } else { false } },
                "\(second.map(\.outcome))"
            )
            #expect(simulator.requestLog().filter { $0.batchItems != nil }.count == 1)
        }
    }
}

/// Passes tokens through and signals each request for one.
struct SignallingProvider: TokenProvider {
    let inner: any TokenProvider
    let signal: AsyncStream<Void>.Continuation

    func token(rejecting rejected: String?) async throws -> String {
        signal.yield()
        return try await inner.token(rejecting: rejected)
    }
}
