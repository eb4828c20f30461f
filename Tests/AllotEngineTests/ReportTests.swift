import AllotTestSupport
import AllotCore
import AllotEngine
import AllotGraph
import AllotSimulator
import Foundation
import Testing

/// `allot report` in process against the simulator's generated tenant (sign-in activity,
/// disabled accounts, never signed in): what it reads, what it refuses, and figures that match
/// a count made directly over the tenant the simulator serves.
@Suite("End to end: the license report")
struct ReportTests {
    static let start = Date(timeIntervalSince1970: TimeInterval(PolicyDates.instant("2026-12-07T06:00:00Z")!))
    static let evaluatedAt = Int64(start.timeIntervalSince1970)

    static func tenant() -> Snapshot {
        TenantGenerator(users: 2_000, seed: 63, driftPercent: 0, lifecycleDatesAsOf: start).generate()
    }

    static func grantAuditLogs(_ configuration: inout SimulatorConfiguration) {
        for index in configuration.applications.indices {
            configuration.applications[index].roles.insert("AuditLog.Read.All")
        }
    }

    /// The users' pages the report read, and whether anything but a read reached Graph.
    static func reads(_ simulator: GraphSimulator) -> (userPages: [String], writes: Int) {
        let graph = simulator.requestLog().filter { $0.path.hasPrefix("/v1.0/") }
        return (
            graph.filter { $0.path.hasPrefix("/v1.0/users") }.map(\.path), graph.filter { $0.method != "GET" }.count
        )
    }

    @Test(
        "without AuditLog.Read.All the report fails closed naming it and --no-activity; --no-activity reads without sign-ins"
    )
    func refusedActivity() async throws {
        try await InProcessEngine.with("report-refused", tenant: Self.tenant()) { engine in
            await #expect {
                try await engine.report(withActivity: true, evaluatedAt: Self.evaluatedAt)
            } throws: { error in
                guard let error = error as? GraphReadError else { return false }
                let text = "\(error)"
                return error.reason == .signInActivityRefused && text.contains("AuditLog.Read.All")
                    && text.contains("allot report --no-activity")
                    && !text.contains("policies")
            }
            engine.simulator.clearRequestLog()
            let report = try await engine.report(withActivity: false, evaluatedAt: Self.evaluatedAt)
            #expect(!report.signInActivityRead && report.accountEnabledRead)
            #expect(report.skus.allSatisfy { $0.seats.inactive == nil })
            let reads = Self.reads(engine.simulator)
            #expect(reads.writes == 0)
            #expect(
                reads.userPages.allSatisfy {
                    $0.contains("$top=999") && !$0.contains("signInActivity") && $0.contains("accountEnabled")
                }
            )
        }
    }

    @Test(
        "every subscribed SKU, managed or not, with the counts and cost a direct count over the tenant gives; nothing written"
    )
    func figures() async throws {
        let tenant = Self.tenant()
        try await InProcessEngine.with("report", tenant: tenant, configure: Self.grantAuditLogs) { engine in
            try "prices:\n  SPE_E5: { monthly: 57.00, currency: EUR }\n  EMS: { monthly: 10.60, currency: USD }\n"
                .appendLine(toFile: engine.workspace.configPath)
            let report = try await engine.reloaded().report(withActivity: true, evaluatedAt: Self.evaluatedAt)
            #expect(report.signInActivityRead)
            let reads = Self.reads(engine.simulator)
            #expect(reads.writes == 0, "a report writes nothing")
            #expect(
                reads.userPages.first?.contains("$top=500") == true
                    && reads.userPages.first?.contains("signInActivity") == true
            )

            let served = engine.simulator.currentTenant()
            #expect(report.skus.map(\.skuId).sorted() == served.subscribedSkus.map(\.skuId).sorted())
            #expect(report.skus.contains { !$0.managed }, "unmanaged SKUs are listed too")
            for sku in served.subscribedSkus {
                let usage = try #require(report.skus.first { $0.skuId == sku.skuId })
                let holders = served.users.filter { $0.assignedLicenses.contains { $0.skuId == sku.skuId } }
                func inactive(_ days: Int64) -> Int {
                    holders.filter { user in
                        guard case let .object(activity)? = user.properties["signInActivity"],
                            case let .string(text)? = activity["lastSuccessfulSignInDateTime"],
                            let instant = PolicyDates.instant(text),
                            instant != PolicyDates.neverPlaceholder
                        else { return true }
                        return instant < Self.evaluatedAt - days * 86_400
                    }.count
                }
                #expect(
                    usage.seats.prepaid == sku.prepaidUnits.enabled && usage.seats.assigned == sku.consumedUnits,
                    "\(sku.skuPartNumber)"
                )
                #expect(
                    usage.seats.assignedToDisabled
                        == holders.filter { $0.properties["accountEnabled"] == .bool(false) }.count,
                    "\(sku.skuPartNumber)"
                )
                #expect(
                    usage.seats.inactive == [30: inactive(30), 60: inactive(60), 90: inactive(90)],
                    "\(sku.skuPartNumber)"
                )
            }
            let e5 = try #require(report.skus.first { $0.sku == "SPE_E5" })
            #expect((e5.seats.inactive?[90] ?? 0) > 0, "the generated tenant has inactive E5 holders")
            #expect(
                e5.monthlyCost?.inactive?[90]
                    == Price(monthly: Amount(57), currency: "EUR").cost(of: e5.seats.inactive?[90] ?? 0)
            )
            #expect(report.totals.map(\.currency) == ["EUR", "USD"])
        }
    }
}

extension String {
    /// Appends this text to a file (the workspace's `allot.yaml`).
    fileprivate func appendLine(toFile path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
