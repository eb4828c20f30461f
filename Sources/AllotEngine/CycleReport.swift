import AllotCore
import Foundation

/// What one reconcile cycle did: the `cycle.finished` event, the `last cycle` of `/status`,
/// and what `allot apply` exits with.
public struct CycleReport: Sendable, Codable, Equatable {
    /// How a cycle ended.
    public enum Result: String, Sendable, Codable {
        /// The tenant matches the policies (nothing to do, or everything applied).
        case converged
        /// Calls went out, but something is left: per-user failures, deferred adds, skipped
        /// users, removals held back by the guard, the delay or a shrunk group, or writes not
        /// sent (shutdown).
        case notConverged = "not_converged"
        /// The tenant differs from the policies and nothing was written (`allot plan`, `mode: report`).
        case drifted
        /// The cycle could not read, plan or load its policies; nothing was written.
        case failed
    }

    /// Counts per kind of change.
    public struct Counts: Sendable, Codable, Equatable {
        public var adds = 0
        public var removals = 0
        public var planChanges = 0
        public var usageLocations = 0

        public init() {}

        public var total: Int { adds + removals + planChanges + usageLocations }
    }

    /// One failed write, as Graph answered it.
    public struct Failure: Sendable, Codable, Equatable {
        public var userId: GUID
        public var userPrincipalName: String
        public var operation: String
        public var kind: String
        public var status: Int?
        public var code: String?
        public var message: String
    }

    /// A policy Graph refuses for a SKU (`/status` and the `policy.conflict` event): a disabled
    /// plan another plan depends on, or plans that exclude each other.
    public struct PolicyConflict: Sendable, Codable, Equatable {
        public var policy: String
        public var sku: String
        /// For plans that exclude each other: the other SKU the user holds (or gets) with one of them.
        public var conflictingSku: String?
        /// `dependency` or `mutuallyExclusive`.
        public var kind: String
        /// The service plans Graph named, by name where the tenant knows them.
        public var plans: [String]
        /// Graph's message, as it gave it for the first user.
        public var message: String
        /// Users whose call Graph refused for this.
        public var users: Int
        /// The first such user.
        public var exampleUser: String
    }

    /// A referenced group whose membership shrank suddenly (`/status` and the `group.shrunk` event).
    public struct GroupShrink: Sendable, Codable, Equatable {
        public var groupId: GUID
        public var displayName: String
        /// The group's user count before the shrink.
        public var usersBefore: Int
        /// The user count this cycle read.
        public var usersNow: Int
        /// Cycles in a row that read the smaller count (this one included).
        public var cyclesSeen: Int
        /// Whether this cycle held the removals the shrink causes (false once confirmed or overridden).
        public var held: Bool
        /// Whether `--allow-mass-removal` released an unconfirmed shrink.
        public var overridden: Bool

        public init(
            groupId: GUID,
            displayName: String,
            usersBefore: Int,
            usersNow: Int,
            cyclesSeen: Int,
            held: Bool,
            overridden: Bool
        ) {
            self.groupId = groupId
            self.displayName = displayName
            self.usersBefore = usersBefore
            self.usersNow = usersNow
            self.cyclesSeen = cyclesSeen
            self.held = held
            self.overridden = overridden
        }
    }

    public var mode: String
    public var startedAt: Date
    public var finishedAt: Date
    public var result: Result
    /// Why the cycle failed, or what stopped it early.
    public var error: String?
    public var policyRevision: String
    public var usersRead = 0
    public var usersInScope = 0
    public var usersDrifted = 0
    public var planned = Counts()
    public var applied = Counts()
    public var failed = Counts()
    public var deferredAdds = 0
    public var skippedUsers = 0
    public var delayedRemovals = 0
    /// Removals held because a group shrank suddenly (the group shrink hold).
    public var heldRemovals = 0
    /// The referenced groups that shrank suddenly, as this cycle read them.
    public var shrunkGroups: [GroupShrink] = []
    /// Writes not sent because the cycle was stopped (SIGTERM, or a missing permission); the next cycle sends them.
    public var notSent = 0
    /// Users deleted between the read and their write (Graph answered 404): left alone.
    public var usersGone = 0
    /// Applying a saved plan: users whose saved change was not sent because their state or their
    /// plan changed since (`plan.stale`).
    public var staleUsers = 0
    /// Calls Graph refused because of what a policy asks for, per (policy, SKU).
    public var policyConflicts: [PolicyConflict] = []
    /// Why Graph refused writes (403: a missing permission), when it did; the cycle's writes stopped there.
    public var writesRefused: String?
    public var guardrail: GuardOutcome?
    public var seats: [SeatCount] = []
    /// The monthly cost of the priced managed SKUs before and after the cycle's plan (`prices:`).
    public var cost = PlanCost()
    /// The first failures (at most ``maximumFailuresKept``).
    public var failures: [Failure] = []

    public static let maximumFailuresKept = 100

    public var durationSeconds: Double { finishedAt.timeIntervalSince(startedAt) }

    public init(mode: String, startedAt: Date, policyRevision: String) {
        self.mode = mode
        self.startedAt = startedAt
        self.finishedAt = startedAt
        self.result = .failed
        self.policyRevision = policyRevision
    }
}
