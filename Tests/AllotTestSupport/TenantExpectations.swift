import AllotCore
import AllotSimulator
import Foundation
import Testing

/// `allot plan --output json` (docs/plan-format.md), read back.
public struct PlanDocument: Decodable {
    public var version: Int
    public var summary: Plan.Summary
    public var changes: [UserChange]
    public var deferred: [DeferredAdd]
    public var skipped: [SkippedUser]
    public var delayedRemovals: [DelayedRemoval]
    public var heldThroughGroups: [GroupHeldLicense]
    public var heldRemovals: [HeldRemoval]
    public var guardrail: GuardOutcome
    public var seats: [SeatCount]

    private enum CodingKeys: String, CodingKey {
        case version, summary, changes, deferred, skipped, delayedRemovals, heldThroughGroups, heldRemovals, seats
        case guardrail = "guard"
    }

    /// Every user the plan says differs from the policies (changed, deferred, skipped or with a delayed removal).
    public var driftedUsers: Set<GUID> {
        Set(changes.map(\.userId)).union(deferred.map(\.userId)).union(skipped.map(\.userId)).union(
            delayedRemovals.map(\.userId)
        )
    }

    /// The SKUs the plan removes from each user.
    public var removals: [GUID: Set<GUID>] {
        Dictionary(changes.map { ($0.userId, Set($0.assignLicense?.removeLicenses ?? [])) }) { $0.union($1) }
    }
}

/// What Allot may change about a user: direct assignments (SKU -> disabled plans) and the usage location.
public struct DirectState: Equatable, CustomStringConvertible {
    public var licenses: [GUID: Set<GUID>]
    public var usageLocation: String?

    public var description: String {
        "usageLocation \(usageLocation ?? "none"), licenses "
            + licenses.keys.sorted().map { "\($0)\(licenses[$0]!.isEmpty ? "" : "-\(licenses[$0]!.count) plans")" }
            .joined(separator: ", ")
    }
}

public enum TenantExpectations {
    /// Each user's direct assignments and usage location.
    public static func directState(_ snapshot: Snapshot) -> [GUID: DirectState] {
        Dictionary(
            uniqueKeysWithValues: snapshot.users.map { user in
                let states =
                    user.licenseAssignmentStates
                    ?? user.assignedLicenses.map {
                        LicenseAssignmentState(skuId: $0.skuId, disabledPlans: $0.disabledPlans)
                    }
                let direct = states.filter(\.isDirect).map { ($0.skuId, Set($0.disabledPlans)) }
                return (
                    user.id,
                    DirectState(licenses: Dictionary(direct) { first, _ in first }, usageLocation: user.usageLocation)
                )
            }
        )
    }

    /// Group-based assignments, which Allot never touches.
    public static func groupStates(_ snapshot: Snapshot) -> [GUID: [LicenseAssignmentState]] {
        Dictionary(
            uniqueKeysWithValues: snapshot.users.map { user in
                (
                    user.id,
                    (user.licenseAssignmentStates ?? []).filter { !$0.isDirect }.sorted {
                        ($0.skuId, $0.assignedByGroup ?? $0.skuId) < ($1.skuId, $1.assignedByGroup ?? $1.skuId)
                    }
                )
            }
        )
    }

    /// The state `initial` reaches when every call of `plan` succeeds and nothing else changes.
    public static func expectedState(initial: Snapshot, plan: PlanDocument) -> [GUID: DirectState] {
        var state = directState(initial)
        for change in plan.changes {
            var user = state[change.userId]!
            if let code = change.setUsageLocation { user.usageLocation = code }
            if let body = change.assignLicense {
                for sku in body.removeLicenses { user.licenses[sku] = nil }
                for add in body.addLicenses { user.licenses[add.skuId] = Set(add.disabledPlans) }
            }
            state[change.userId] = user
        }
        return state
    }

    /// Checks that the tenant is exactly what `plan` wanted from `initial`: every user's direct
    /// licenses and usage location, and every group-based assignment unchanged.
    public static func expectConverged(
        _ final: Snapshot,
        initial: Snapshot,
        plan: PlanDocument,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let expected = expectedState(initial: initial, plan: plan)
        let actual = directState(final)
        #expect(actual.count == expected.count, "users in the tenant", sourceLocation: sourceLocation)
        let wrong = expected.keys.sorted().filter { actual[$0] != expected[$0] }
        #expect(
            wrong.isEmpty,
            "\(wrong.count) users differ from the plan, e.g. \(wrong.prefix(3).map { "\($0): expected \(expected[$0]!), got \(actual[$0].map(\.description) ?? "nothing")" })",
            sourceLocation: sourceLocation
        )
        #expect(
            groupStates(final) == groupStates(initial),
            "group-based assignments changed",
            sourceLocation: sourceLocation
        )
    }

    /// Checks every `assignLicense` the simulator received: it removes only SKUs the plan removes
    /// from that user (no license a policy keeps is ever removed). Also checks that every license
    /// call went through `$batch` with its body logged, so that the scan saw all of them.
    ///
    /// - Returns: the (user, SKU) removals the simulator accepted.
    @discardableResult
    public static func expectOnlyPlannedRemovals(
        _ log: [LoggedRequest],
        plan: PlanDocument,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> Set<PendingRemoval> {
        #expect(
            !log.contains { $0.path.hasSuffix("/assignLicense") },
            "a license call outside $batch",
            sourceLocation: sourceLocation
        )
        let allowed = plan.removals
        var accepted: Set<PendingRemoval> = []
        for item in log.batchItems where item.url.hasSuffix("/assignLicense") {
            #expect(item.body != nil, "the simulator logged no body for \(item.url)", sourceLocation: sourceLocation)
            let removed = removedSkus(item)
            guard !removed.isEmpty, let user = user(of: item) else { continue }
            let permitted = allowed[user] ?? []
            #expect(
                removed.isSubset(of: permitted),
                "\(item.url) removed \(removed.subtracting(permitted)), which the plan keeps",
                sourceLocation: sourceLocation
            )
            if (200..<300).contains(item.status) {
                accepted.formUnion(removed.map { PendingRemoval(user: user, sku: $0) })
            }
        }
        return accepted
    }

    /// The SKUs an `assignLicense` batch item asked to remove.
    public static func removedSkus(_ item: LoggedBatchItem) -> Set<GUID> {
        guard case let .object(body)? = item.body, case let .array(ids)? = body["removeLicenses"] else { return [] }
        return Set(ids.compactMap { $0.stringValue.flatMap(GUID.init) })
    }

    /// The user a batch item is for (`/users/{id}/...`).
    public static func user(of item: LoggedBatchItem) -> GUID? {
        item.url.split(separator: "/").dropFirst().first.flatMap { GUID(String($0)) }
    }
}

extension JSONValue {
    public var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }
}
