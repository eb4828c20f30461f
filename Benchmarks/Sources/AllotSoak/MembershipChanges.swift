import AllotTools
import Foundation

/// With the fast path on (`--fast-interval`): joiners and leavers made between cycles through
/// Graph's membership writes, and what the soak checks of them.
///
/// Joiners are added to Platform Engineering (nested in Engineering, whose policy grants
/// `SPE_E5`, replacing `SPE_E3`); leavers are removed from PMO (whose policy grants
/// `PROJECTPROFESSIONAL`). After every cycle the soak reads every user's licenses and checks:
/// - **every joiner licensed**: a joiner holds `SPE_E5` by the end of the first cycle after the
///   change that did not fail (a failing page fails a cycle, writing nothing); while no fault is
///   armed, the soak polls the joiners' licenses to time the wait from the membership write;
/// - **no wrongful removal**: since the previous check, nobody lost a license except a joiner its
///   `SPE_E3` and a leaver its `PROJECTPROFESSIONAL`. Users drifted by hand are left out from
///   then on (the daemon undoes a hand-made add, rightly).
struct MembershipChanges {
    struct Joiner {
        let user: String
        let madeAt: ContinuousClock.Instant
        /// Cycles that did not fail still allowed before the joiner must be licensed.
        var cyclesLeft = 1
        var licensed = false
        /// The wait from the membership write to the license, when polled.
        var wait: Duration?
    }

    let joinersPerCycle: Int
    let leaversPerCycle: Int
    let groups: TenantAdmin.MembershipGroups
    private(set) var joiners: [Joiner] = []
    private(set) var leavers = 0
    private(set) var problems: [String] = []
    /// Checks made.
    private(set) var checks = 0
    /// Each user's licenses (SKU ids) at the previous check.
    private var previous: [String: Set<String>]?
    private var drifted: Set<String> = []
    /// Licenses a user may lose: a joiner's replaced SKU, a leaver's granted SKU.
    private var mayLose: [String: Set<String>] = [:]
    private var candidates: [String]
    private var members: [String]

    init(joinersPerCycle: Int, leaversPerCycle: Int, groups: TenantAdmin.MembershipGroups) {
        self.joinersPerCycle = joinersPerCycle
        self.leaversPerCycle = leaversPerCycle
        self.groups = groups
        candidates = groups.joinerCandidates
        members = groups.leaverCandidates
    }

    /// Joiners and leavers for the next cycle, through `POST /groups/{id}/members/$ref` and
    /// `DELETE /groups/{id}/members/{id}/$ref`.
    mutating func make(admin: TenantAdmin, random: inout SplitMix64) async throws {
        for _ in 0..<joinersPerCycle {
            guard !candidates.isEmpty else { break }
            let user = candidates.remove(at: random.below(candidates.count))
            try await admin.addMember(user, to: groups.joinGroup)
            joiners.append(Joiner(user: user, madeAt: .now))
            mayLose[user, default: []].insert(groups.replacedSku)
        }
        for _ in 0..<leaversPerCycle {
            guard !members.isEmpty else { break }
            let user = members.remove(at: random.below(members.count))
            try await admin.removeMember(user, from: groups.leaveGroup)
            leavers += 1
            mayLose[user, default: []].insert(groups.leaverSku)
        }
    }

    /// Users the soak changed licenses of by hand: left out of the removal check from now on.
    mutating func drifted(_ users: [String]) { drifted.formUnion(users) }

    /// Polls the joiners not yet licensed (while the soak waits for the daemon's next cycle).
    mutating func pollJoiners(admin: TenantAdmin) async throws {
        for index in joiners.indices where !joiners[index].licensed {
            if try await admin.licenses(of: joiners[index].user).contains(groups.grantedSku) {
                joiners[index].licensed = true
                joiners[index].wait = .now - joiners[index].madeAt
            }
        }
    }

    /// The check after a cycle: every joiner due is licensed, nobody lost a license wrongly.
    mutating func check(after cycle: Int, result: String, admin: TenantAdmin) async throws {
        let current = try await admin.allLicenses()
        checks += 1
        if let previous {
            for (user, held) in previous where !drifted.contains(user) {
                let lost = held.subtracting(current[user] ?? []).subtracting(mayLose[user] ?? [])
                if !lost.isEmpty {
                    problems.append("cycle \(cycle): \(user) lost \(lost.sorted().joined(separator: ", "))")
                }
            }
        }
        previous = current
        for index in joiners.indices where joiners[index].cyclesLeft > 0 {
            let holds = current[joiners[index].user]?.contains(groups.grantedSku) ?? false
            if holds { joiners[index].licensed = true }
            if result != "failed" { joiners[index].cyclesLeft -= 1 }
            if joiners[index].cyclesLeft == 0, !holds, !drifted.contains(joiners[index].user) {
                problems.append("cycle \(cycle): joiner \(joiners[index].user) does not hold the license")
            }
        }
    }

    var licensed: Int { joiners.filter(\.licensed).count }

    /// The waits polled, from the membership write to the license, sorted.
    var latencies: [Duration] { joiners.compactMap(\.wait).sorted() }
}
