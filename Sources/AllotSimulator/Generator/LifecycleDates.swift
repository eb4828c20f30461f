import AllotCore
import AllotTools
import Foundation

/// The lifecycle dates the generator gives users when asked (issue 11's lifecycle rules need
/// them): `createdDateTime`, `employeeHireDate`, `employeeLeaveDateTime` and `signInActivity`,
/// all relative to a reference moment so that the same seed and moment give the same tenant.
///
/// The mix, per user (break-glass and guests apart):
///
/// | share | who | dates |
/// |---|---|---|
/// | 1 % | joiners | hire date 1–30 days ahead, created in the last 14 days, never signed in |
/// | 2 % | leavers | leave date 1–60 days ago, last sign-in around it |
/// | 1 % | leaving | leave date 1–45 days ahead, active |
/// | 3 % | never signed in | no `signInActivity` (`null`) |
/// | 7 % | recent non-interactive sign-ins only | no interactive sign-in |
/// | 6 %, 4 %, 5 % | inactive 30–60, 60–90, 90–540 days | every sign-in that long ago |
/// | the rest | active | signed in within 14 days |
///
/// Disabled accounts were last active 30–365 days ago, guests are never signed in (40 %) or seen
/// any time in the last 300 days, break-glass last signed in interactively 120–400 days ago.
/// 85 % of members have a hire date (the rest have none, as when HR does not sync it).
/// `lastSuccessfulSignInDateTime` is `null` before December 2023, as Graph does not backfill it
/// (signinactivity.md), and 2 % of users carry the placeholders of Microsoft's own example
/// (user-list.md, example 11): `"0001-01-01T00:00:00Z"` and `""` where a sign-in never happened.
struct LifecycleDates {
    let reference: Date

    private static let day = 86_400.0
    /// Graph has kept `lastSuccessfulSignInDateTime` since 2023-12-01 only (signinactivity.md).
    private static let successfulSignInsKeptSince = 1_701_388_800.0

    private enum Activity {
        case never
        case nonInteractiveOnly(at: Double)
        case signedIn(at: Double, nonInteractive: Double?)
    }

    func add(to user: inout DirectoryUser, isBreakGlass: Bool, random: inout SplitMix64) {
        let now = reference.timeIntervalSince1970.rounded(.down)
        func daysAgo(_ range: ClosedRange<Double>) -> Double {
            (now - (range.lowerBound + random.unit() * (range.upperBound - range.lowerBound)) * Self.day).rounded(.down)
        }
        let isGuest = user.properties["userType"] == .string("Guest")
        let enabled = user.properties["accountEnabled"] == .bool(true)
        var created = daysAgo(30...2920)
        var hire: Double?
        var leave: Double?
        var activity: Activity
        let draw = random.unit()
        if isBreakGlass {
            activity = .signedIn(at: daysAgo(120...400), nonInteractive: nil)
        } else if isGuest {
            activity = random.chance(0.4) ? .never : .signedIn(at: daysAgo(0...300), nonInteractive: nil)
        } else if draw < 0.01 {
            created = daysAgo(0...14)
            hire = now + (1 + random.unit() * 29).rounded(.down) * Self.day
            activity = .never
        } else if draw < 0.03 {
            let left = daysAgo(1...60)
            leave = left
            activity = .signedIn(at: left - (random.unit() * 3 * Self.day).rounded(.down), nonInteractive: nil)
        } else if !enabled {
            activity = .signedIn(at: daysAgo(30...365), nonInteractive: nil)
        } else {
            if draw < 0.04 { leave = now + (1 + random.unit() * 44).rounded(.down) * Self.day }
            switch random.unit() {
            case ..<0.03: activity = .never
            case ..<0.10: activity = .nonInteractiveOnly(at: daysAgo(0...7))
            case ..<0.16: activity = .signedIn(at: daysAgo(30...60), nonInteractive: nil)
            case ..<0.20: activity = .signedIn(at: daysAgo(60...90), nonInteractive: nil)
            case ..<0.25: activity = .signedIn(at: daysAgo(90...540), nonInteractive: nil)
            default: activity = .signedIn(at: daysAgo(0...14), nonInteractive: daysAgo(0...3))
            }
        }
        switch activity {
        case .never: break
        case let .nonInteractiveOnly(at), let .signedIn(at, _): created = min(created, at - Self.day)
        }
        if hire == nil, !isGuest, !isBreakGlass, random.chance(0.85) {
            let createdDay = (created / Self.day).rounded(.down) * Self.day
            hire = min(
                createdDay + (random.unit() * 14).rounded(.down) * Self.day,
                (now / Self.day).rounded(.down) * Self.day
            )
        }
        user.properties["createdDateTime"] = .string(UTCTime(created).iso8601)
        if let hire { user.properties["employeeHireDate"] = .string(UTCTime(hire).iso8601) }
        if let leave { user.properties["employeeLeaveDateTime"] = .string(UTCTime(leave).iso8601) }
        user.properties["signInActivity"] = signInActivity(activity, random: &random)
    }

    private func signInActivity(_ activity: Activity, random: inout SplitMix64) -> JSONValue {
        let interactive: Double?
        let nonInteractive: Double?
        switch activity {
        case .never: return .null
        case let .nonInteractiveOnly(at): (interactive, nonInteractive) = (nil, at)
        case let .signedIn(at, other): (interactive, nonInteractive) = (at, other)
        }
        let latest = max(interactive ?? 0, nonInteractive ?? 0)
        let successful = latest >= Self.successfulSignInsKeptSince ? latest : nil
        var requestIds: [Double: String] = [:]
        for date in [interactive, nonInteractive].compactMap({ $0 }) { requestIds[date] = random.guid().description }
        let activity = SimulatedSignInActivity(
            lastSignInDateTime: interactive.map { Date(timeIntervalSince1970: $0) },
            lastNonInteractiveSignInDateTime: nonInteractive.map { Date(timeIntervalSince1970: $0) },
            lastSuccessfulSignInDateTime: successful.map { Date(timeIntervalSince1970: $0) }
        )
        var value = activity.graphValue { requestIds[$0.timeIntervalSince1970] ?? "" }
        guard random.chance(0.02), case var .object(members) = value else { return value }
        // Microsoft's example writes a sign-in that never happened as these placeholders.
        for (date, id, placeholder) in [
            ("lastSignInDateTime", "lastSignInRequestId", "0001-01-01T00:00:00Z"),
            ("lastNonInteractiveSignInDateTime", "lastNonInteractiveSignInRequestId", "0001-01-01T00:00:00Z"),
            ("lastSuccessfulSignInDateTime", "lastSuccessfulSignInRequestId", ""),
        ] where members[date] == .null {
            members[date] = .string(placeholder)
            members[id] = .string("")
        }
        value = .object(members)
        return value
    }
}
