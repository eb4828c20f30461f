import AllotEngine
import Foundation
import Testing

@testable import AllotCore
@testable import AllotDaemon

/// What `/healthz`, `/readyz`, `/status` and `STATUS=` say, from the loop's reports alone.
@Suite("DaemonStatus")
struct DaemonStatusTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func status(interval: Duration = .seconds(60)) -> DaemonStatus {
        DaemonStatus(
            startedAt: start,
            interval: interval,
            mode: "enforce",
            policies: DaemonStatus.Policies(
                revision: "r1",
                files: ["/etc/allot/policies/a.yaml"],
                count: 1,
                loadedAt: start,
                lastError: nil
            )
        )
    }

    static func report(
        _ result: CycleReport.Result,
        at offset: TimeInterval,
        seats: [SeatCount] = [],
        guardTripped: Bool = false
    ) -> CycleReport {
        var report = CycleReport(mode: "enforce", startedAt: start.addingTimeInterval(offset - 1), policyRevision: "r1")
        report.finishedAt = start.addingTimeInterval(offset)
        report.result = result
        report.usersRead = 300
        report.seats = seats
        if result == .failed { report.error = "the users listing failed on page 3 (HTTP 503)" }
        if guardTripped {
            report.guardrail = GuardOutcome(
                tripped: true,
                removals: 80,
                maxRemovals: 50,
                maxRemovalPercent: 5,
                managedLicensesAssigned: 1000,
                overridden: false,
                reason: "the cycle would remove 80 licenses, more than maxRemovals (50)"
            )
        }
        return report
    }

    static let seats = [
        SeatCount(
            sku: "SPE_E3",
            skuId: GUID("05e9a617-0261-4cee-bb44-138d3ef5d965")!,
            prepaid: 100,
            consumedBefore: 90,
            consumedAfter: 95,
            availableBefore: 10,
            availableAfter: 5,
            deferredAdds: 0
        )
    ]

    @Test(
        "/healthz: alive while the loop ticked (a cycle started, progressed or finished) within 3 intervals (at least 60 s), then 503"
    )
    func health() {
        let status = Self.status(interval: .seconds(60))
        #expect(status.health(now: Self.start.addingTimeInterval(179)).ok)
        let silent = status.health(now: Self.start.addingTimeInterval(181))
        #expect(!silent.ok)
        #expect(silent.reason?.contains("181 s") == true, "\(silent.reason ?? "")")

        status.cycleStarted(at: Self.start.addingTimeInterval(170))
        #expect(status.health(now: Self.start.addingTimeInterval(300)).ok, "a cycle start is a tick")
        // A long first roll-out, paced at Graph's write quota, stays alive while it progresses.
        #expect(!status.health(now: Self.start.addingTimeInterval(400)).ok)
        status.progressed(at: Self.start.addingTimeInterval(390))
        #expect(status.health(now: Self.start.addingTimeInterval(400)).ok, "progress within a cycle is a tick")

        let short = Self.status(interval: .seconds(2))
        #expect(short.health(now: Self.start.addingTimeInterval(59)).ok, "short intervals still allow 60 s")
        #expect(!short.health(now: Self.start.addingTimeInterval(61)).ok)
    }

    @Test("/readyz: not before the first cycle, not after a failed one, a tripped guard or invalid policies")
    func readiness() {
        let status = Self.status()
        #expect(status.readiness() == DaemonStatus.Probe(ok: false, reason: "the first cycle has not finished yet"))

        status.cycleFinished(Self.report(.notConverged, at: 10), nextAt: nil)
        #expect(status.readiness().ok, "per-user failures and deferrals do not make the daemon unready")

        status.cycleFinished(Self.report(.failed, at: 20), nextAt: nil)
        #expect(status.readiness().reason == "the last cycle failed: the users listing failed on page 3 (HTTP 503)")

        status.cycleFinished(Self.report(.notConverged, at: 30, guardTripped: true), nextAt: nil)
        #expect(status.readiness().reason?.hasPrefix("removal guard tripped: the cycle would remove 80") == true)

        status.cycleFinished(Self.report(.converged, at: 40), nextAt: nil)
        status.policiesRejected(
            ["/etc/allot/policies/a.yaml:3:5: unknown key `matchs`"],
            at: Self.start.addingTimeInterval(41)
        )
        #expect(
            status.readiness().reason
                == "policies invalid (the last good set is still in use): /etc/allot/policies/a.yaml:3:5: unknown key `matchs`"
        )

        status.policiesLoaded(
            DaemonStatus.Policies(
                revision: "r2",
                files: ["/etc/allot/policies/a.yaml"],
                count: 1,
                loadedAt: Self.start,
                lastError: nil
            ),
            interval: .seconds(60),
            mode: "enforce"
        )
        #expect(status.readiness().ok)
    }

    @Test("/readyz: 503 while a shrunk group holds removals, ready once the shrink is confirmed or overridden")
    func readinessWhileGroupShrunk() throws {
        let status = Self.status()
        let pmo = GUID(high: 0x9, low: 1)
        var held = Self.report(.notConverged, at: 10)
        held.heldRemovals = 12
        held.shrunkGroups = [
            CycleReport.GroupShrink(
                groupId: pmo,
                displayName: "PMO",
                usersBefore: 40,
                usersNow: 0,
                cyclesSeen: 1,
                held: true,
                overridden: false
            )
        ]
        status.cycleFinished(held, nextAt: nil)
        let probe = status.readiness()
        #expect(!probe.ok)
        let reason = try #require(probe.reason)
        #expect(
            reason.contains("'PMO' (\(pmo)) from 40 to 0 users") && reason.contains("allot apply --allow-mass-removal"),
            "\(reason)"
        )
        #expect(status.systemdStatusLine().hasSuffix(", 12 removals held"))

        var confirmed = Self.report(.converged, at: 20)
        confirmed.shrunkGroups = [
            CycleReport.GroupShrink(
                groupId: pmo,
                displayName: "PMO",
                usersBefore: 40,
                usersNow: 0,
                cyclesSeen: 2,
                held: false,
                overridden: false
            )
        ]
        status.cycleFinished(confirmed, nextAt: nil)
        #expect(status.readiness().ok)
        #expect(
            status.snapshot(now: Self.start.addingTimeInterval(21)).lastCycle?.shrunkGroups.map(\.cyclesSeen) == [2]
        )
    }

    @Test("/status keeps the last seats and their cost through a failed read, and the newest 20 errors")
    func snapshot() throws {
        let status = Self.status()
        var priced = Self.report(.converged, at: 10, seats: Self.seats)
        let e3 = PriceList([
            SkuPrice(
                sku: Reference("SPE_E3"),
                price: Price(monthly: Amount(Decimal(string: "36.50")!), currency: "EUR")
            )
        ])
        priced.cost = PlanCost(seats: Self.seats, prices: e3)
        status.cycleFinished(priced, nextAt: Self.start.addingTimeInterval(70))
        status.cycleFinished(Self.report(.failed, at: 80), nextAt: Self.start.addingTimeInterval(140))
        let snapshot = status.snapshot(now: Self.start.addingTimeInterval(90))
        #expect(snapshot.seats == Self.seats)
        #expect(
            snapshot.cost.totals == [
                CostTotal(
                    currency: "EUR",
                    monthlyBefore: Amount(3285),
                    monthlyAfter: Amount(Decimal(string: "3467.5")!)
                )
            ]
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(snapshot.cost), as: UTF8.self)
        #expect(json.contains(#""monthlyAfter":"3467.50""#), "\(json)")
        #expect(snapshot.lastCycle?.result == .failed)
        #expect(snapshot.nextCycleAt == Self.start.addingTimeInterval(140))
        #expect(snapshot.cycleInProgress == nil)
        #expect(snapshot.recentErrors.map(\.message) == ["the users listing failed on page 3 (HTTP 503)"])

        for index in 0..<25 {
            status.policiesRejected(["a.yaml:\(index):1: bad"], at: Self.start.addingTimeInterval(100 + Double(index)))
        }
        let errors = status.snapshot(now: Self.start.addingTimeInterval(200)).recentErrors
        #expect(errors.count == DaemonStatus.recentErrorsKept)
        #expect(errors.last?.message == "policies invalid: a.yaml:24:1: bad")

        status.cycleStarted(at: Self.start.addingTimeInterval(300))
        #expect(
            status.snapshot(now: Self.start.addingTimeInterval(301)).cycleInProgress?.startedAt
                == Self.start.addingTimeInterval(300)
        )
    }

    @Test("STATUS= sums the last cycle up in one line")
    func systemdStatusLine() {
        let status = Self.status()
        #expect(status.systemdStatusLine() == "waiting for the first cycle")
        var report = Self.report(.notConverged, at: 10, guardTripped: true)
        report.usersDrifted = 12
        report.applied.adds = 7
        report.failed.removals = 1
        report.deferredAdds = 3
        status.cycleFinished(report, nextAt: nil)
        #expect(
            status.systemdStatusLine()
                == "last cycle not_converged: 300 users read, 12 drifted, 7 changes applied, 1 failed, 3 deferred, guard tripped"
        )
    }
}
