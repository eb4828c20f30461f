/// A plan saved for later, exact application (`allot plan --out FILE`, `allot apply FILE`;
/// docs/gitops.md "Saved plans").
///
/// It keeps what the plan was computed from: the policy set's and the configuration's
/// revisions, when it was made, and each changed user's license state as read. Applying it
/// re-reads the tenant and sends a user's planned change only when that user's state is still
/// what the plan saw and the current policies still plan exactly that change; every other user
/// is left alone and reported stale. A plan whose policies or configuration differ, that is
/// older than the allowed age, or whose contents no longer match its digest is refused whole.
public struct SavedPlan: Sendable, Hashable, Codable {
    public static let formatVersion = 1

    public var version: Int
    /// When the plan was made, in seconds since the epoch.
    public var createdAt: Int64
    /// The policy set's revision (SHA-256 over its files), as `/status` and the logs show it.
    public var policyRevision: String
    /// SHA-256 of the configuration file.
    public var configurationRevision: String
    /// Each changed user's license state as read when planning, in user-id order.
    public var users: [SavedUserState]
    /// The planned changes, in user-id order: exactly what applying sends, at most.
    public var changes: [UserChange]
    public var summary: Plan.Summary
    /// SHA-256 of this document's other fields (sorted-key JSON), written last; a plan edited by
    /// hand no longer matches it.
    public var digest: String

    /// The saved form of `plan`, with the state of its users from the tenant it was planned over.
    public init(plan: Plan, createdAt: Int64, policyRevision: String, configurationRevision: String) {
        let tenant = plan.details.planner.tenant
        version = Self.formatVersion
        self.createdAt = createdAt
        self.policyRevision = policyRevision
        self.configurationRevision = configurationRevision
        changes = plan.changes
        users = changes.compactMap { change in
            tenant.userIndex(for: change.userId).map { SavedUserState(tenant: tenant, user: $0) }
        }
        summary = plan.summary
        digest = ""
    }

    /// Why the whole plan must be refused, or `nil` when it may be applied user by user.
    ///
    /// - Parameters:
    ///   - digest: the digest of this document as read (see ``digest``), computed by the caller.
    ///   - maxAge: the oldest plan allowed, in seconds.
    public func refusal(
        digest computed: String,
        policyRevision current: String,
        configurationRevision currentConfiguration: String,
        now: Int64,
        maxAge: Int64
    )
        -> String?
    {
        if version != Self.formatVersion {
            return
                "the plan's format version is \(version); this build applies version \(Self.formatVersion): plan again"
        }
        if computed != digest {
            return "the plan file was changed after it was written (its digest does not match): plan again"
        }
        if policyRevision != current {
            return
                "the policies changed since the plan was made (revision \(policyRevision.prefix(12)), now \(current.prefix(12))): plan again"
        }
        if configurationRevision != currentConfiguration {
            return "the configuration changed since the plan was made: plan again"
        }
        if now - createdAt > maxAge {
            return
                "the plan is \(Self.describe(seconds: now - createdAt)) old, older than --max-age \(Self.describe(seconds: maxAge)): plan again"
        }
        if createdAt > now + 300 {
            return "the plan was made in the future (its time is after this machine's clock): plan again"
        }
        return nil
    }

    /// The saved changes that may be sent now: those whose user's state is as the plan saw it
    /// and that the current policies, over the tenant read now, plan identically.
    ///
    /// - Parameters:
    ///   - fresh: the changes the current policies plan over `tenant`.
    public func applicable(fresh: [UserChange], tenant: TenantModel) -> (send: [UserChange], stale: [StaleUser]) {
        let freshByUser = Dictionary(fresh.map { ($0.userId, $0) }) { first, _ in first }
        let savedStates = Dictionary(users.map { ($0.userId, $0) }) { first, _ in first }
        var send: [UserChange] = []
        var stale: [StaleUser] = []
        for change in changes {
            guard let index = tenant.userIndex(for: change.userId) else {
                stale.append(StaleUser(change, reason: .deleted))
                continue
            }
            guard savedStates[change.userId] == SavedUserState(tenant: tenant, user: index) else {
                stale.append(StaleUser(change, reason: .licensesChanged))
                continue
            }
            guard let now = freshByUser[change.userId], now.assignLicense == change.assignLicense,
                now.setUsageLocation == change.setUsageLocation
            else {
                stale.append(StaleUser(change, reason: .plannedDifferently))
                continue
            }
            send.append(now)
        }
        return (send, stale)
    }

    private static func describe(seconds: Int64) -> String {
        seconds >= 86_400 && seconds % 3_600 == 0
            ? "\(seconds / 3_600)h"
            : seconds >= 3_600 ? "\(seconds / 3_600)h\(seconds % 3_600 / 60)m" : "\(seconds / 60)m"
    }
}

/// One user's license state as read: what a saved plan compares before sending the user's change.
public struct SavedUserState: Sendable, Hashable, Codable {
    public var userId: GUID
    public var usageLocation: String?
    /// Sorted by SKU, disabled plans sorted.
    public var assignedLicenses: [AssignedLicense]
    /// One entry per source of each SKU, sorted; `nil` when Graph did not report them.
    public var licenseAssignmentStates: [LicenseAssignmentState]?

    /// The state of the user at `index` in `tenant`.
    public init(tenant: TenantModel, user index: Int) {
        let holding = tenant.licenseHolding(ofUser: index)
        userId = tenant.userID(at: index)
        usageLocation = tenant.usageLocation(at: index)
        assignedLicenses = holding.assignedLicenses
        licenseAssignmentStates = holding.states
    }
}

/// A saved change not sent, and why (the `plan.stale` event).
public struct StaleUser: Sendable, Hashable, Codable {
    /// Why a saved change is not sent.
    public enum Reason: String, Sendable, Hashable, Codable {
        /// The user's licenses or usage location differ from what the plan saw.
        case licensesChanged
        /// The user's state is unchanged, but the current plan for them differs (seats taken,
        /// the guard, a removal delay): sending the saved change would not be what is planned now.
        case plannedDifferently
        /// The user no longer exists.
        case deleted
    }

    public var userId: GUID
    public var userPrincipalName: String
    public var reason: Reason

    init(_ change: UserChange, reason: Reason) {
        userId = change.userId
        userPrincipalName = change.userPrincipalName
        self.reason = reason
    }
}
