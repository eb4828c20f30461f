import AllotCore

/// What Allot remembers between cycles, in `state.json` under the state directory:
/// when each pending removal was first seen (for `reconcile.removalDelay`), the users whose
/// calls failed, with a growing backoff so that one broken user does not cost a call every
/// cycle, each referenced group's user count (for the group shrink hold), and when a cycle last
/// succeeded (so that `allot_last_success_timestamp_seconds` survives a restart).
///
/// Losing it is always safe: removal clocks restart (removals are only delayed further),
/// failed users are retried sooner, and a group without a remembered count is not held (its
/// count of this cycle becomes the baseline).
///
/// Version 2 added `groups`; a version 1 file loads with no group counts. `lastSuccessAt` is
/// optional: a file without it loads as "no success remembered".
public struct EngineState: Sendable, Hashable, Codable {
    public static let currentVersion = 2
    /// The oldest version this Allot reads.
    public static let oldestReadableVersion = 1

    public var version: Int = EngineState.currentVersion
    public var pendingRemovals: [PendingRemovalEntry]
    /// By user, so that recording each write's outcome costs the same however many users fail.
    private var failuresByUser: [GUID: UserFailure]
    /// Per referenced group, in group order: its user count and any shrink being held.
    public var groups: [GroupCount]
    /// When the last cycle that read and planned (did not fail) saved the state, in seconds since the epoch.
    public var lastSuccessAt: Int64?

    /// The users whose last call failed, in user order (as `state.json` lists them).
    public var failures: [UserFailure] { failuresByUser.values.sorted { $0.user < $1.user } }

    public init(pendingRemovals: [PendingRemovalEntry] = [], failures: [UserFailure] = [], groups: [GroupCount] = []) {
        self.pendingRemovals = pendingRemovals
        failuresByUser = Dictionary(failures.map { ($0.user, $0) }) { $1 }
        self.groups = groups
    }

    private enum CodingKeys: String, CodingKey { case version, pendingRemovals, failures, groups, lastSuccessAt }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            pendingRemovals: try container.decode([PendingRemovalEntry].self, forKey: .pendingRemovals),
            failures: try container.decode([UserFailure].self, forKey: .failures),
            groups: try container.decodeIfPresent([GroupCount].self, forKey: .groups) ?? []
        )
        version = try container.decode(Int.self, forKey: .version)
        lastSuccessAt = try container.decodeIfPresent(Int64.self, forKey: .lastSuccessAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(pendingRemovals, forKey: .pendingRemovals)
        try container.encode(failures, forKey: .failures)
        try container.encode(groups, forKey: .groups)
        try container.encodeIfPresent(lastSuccessAt, forKey: .lastSuccessAt)
    }

    /// A referenced group's transitive user count as the last cycle read it, and the shrink
    /// being held, if any.
    public struct GroupCount: Sendable, Hashable, Codable {
        public var group: GUID
        /// The users the last cycle counted in the group.
        public var users: Int
        /// Set while a sudden shrink is held: `users` is then the smaller count.
        public var shrink: HeldShrink?

        public init(group: GUID, users: Int, shrink: HeldShrink? = nil) {
            self.group = group
            self.users = users
            self.shrink = shrink
        }
    }

    /// A shrink being held: the count before it, and how many cycles in a row read the smaller count.
    public struct HeldShrink: Sendable, Hashable, Codable {
        public var usersBefore: Int
        public var cyclesSeen: Int

        public init(usersBefore: Int, cyclesSeen: Int) {
            self.usersBefore = usersBefore
            self.cyclesSeen = cyclesSeen
        }
    }

    /// A (user, SKU) pair pending removal and when it was first seen, in seconds since the epoch.
    public struct PendingRemovalEntry: Sendable, Hashable, Codable {
        public var user: GUID
        public var sku: GUID
        public var since: Int64
    }

    /// A user whose last call failed.
    public struct UserFailure: Sendable, Hashable, Codable {
        public var user: GUID
        /// Failures in a row.
        public var count: Int
        /// Seconds since the epoch before which the user is not retried.
        public var retryAfter: Int64
        /// Graph's error code of the last failure.
        public var lastError: String
    }

    /// The planner's view of the pending removals.
    public var removalHistory: RemovalHistory {
        get {
            RemovalHistory(
                firstSeen: Dictionary(pendingRemovals.map { (PendingRemoval(user: $0.user, sku: $0.sku), $0.since) }) {
                    $1
                }
            )
        }
        set {
            pendingRemovals = newValue.firstSeen.map {
                PendingRemovalEntry(user: $0.key.user, sku: $0.key.sku, since: $0.value)
            }
            .sorted { ($0.user, $0.sku) < ($1.user, $1.sku) }
        }
    }

    /// Users still waiting for their backoff to pass at `now`.
    public func usersInBackoff(at now: Int64) -> Set<GUID> {
        Set(failuresByUser.values.filter { $0.retryAfter > now }.map(\.user))
    }

    /// Records the outcome of one user's calls: a success clears the user, a failure backs off
    /// for `base * 2^(failures - 1)`, at most `maximum`.
    public mutating func record(
        user: GUID,
        failedWith error: String?,
        at now: Int64,
        base: Duration = .seconds(600),
        maximum: Duration = .seconds(12 * 3600)
    ) {
        guard let error else {
            failuresByUser[user] = nil
            return
        }
        let count = (failuresByUser[user]?.count ?? 0) + 1
        let wait = min(base.components.seconds << min(count - 1, 20), maximum.components.seconds)
        failuresByUser[user] = UserFailure(user: user, count: count, retryAfter: now + wait, lastError: error)
    }
}
