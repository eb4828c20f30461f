import Logging

/// A log event from the documented catalogue (`docs/log-events.md`), with the fields its lines
/// carry. Alerting reads these names and fields, so they are a stable contract: events and
/// fields are only ever added. Every event Allot logs is declared here, the Graph client's
/// diagnostic ones included; `ObservabilityTests` checks the catalogue against the document.
public struct AllotEvent: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// The fields of its lines (beside `ts`, `level`, `event` and `msg`).
    public let fields: [String]

    private init(_ name: String, _ fields: [String]) {
        self.name = name
        self.fields = fields
    }

    public var description: String { name }

    private static let user = ["user.id", "user.upn"]
    private static let counts = ["planned", "applied", "failed"].flatMap { kind in
        ["adds", "removals", "plan_changes", "usage_locations"].map { "\(kind).\($0)" }
    }
    private static let graphFailure = ["graph.status", "graph.code", "graph.message", "client_request_id"]

    // A reconcile cycle.
    public static let cycleStarted = AllotEvent("cycle.started", ["mode", "policy.revision"])
    public static let cycleFinished = AllotEvent(
        "cycle.finished",
        ["result", "duration_seconds", "users.read", "users.in_scope", "users.drifted"] + counts
            + ["deferred", "skipped", "not_sent", "guard.tripped", "error"]
    )
    public static let cycleFailed = AllotEvent("cycle.failed", ["error"])
    public static let driftDetected = AllotEvent(
        "drift.detected",
        user + ["adds", "removals", "plan_changes", "policies", "usage_location"]
    )
    public static let licenseApplied = AllotEvent("license.applied", user + ["adds", "removals", "plan_changes"])
    public static let usageLocationSet = AllotEvent("usage_location.set", user + ["usage_location"])
    public static let licenseFailed = AllotEvent("license.failed", user + ["operation", "kind"] + graphFailure)
    public static let seatsShort = AllotEvent(
        "seats.short",
        ["sku", "deferred", "available"] + user + ["waited_for", "graph.message"]
    )
    public static let policyConflict = AllotEvent(
        "policy.conflict",
        ["policy", "sku", "conflicting_sku", "kind", "plans", "users", "example_user", "graph.message"]
    )
    public static let userGone = AllotEvent("user.gone", user + ["operation"])
    public static let permissionDenied = AllotEvent("permission.denied", ["operation", "permission"] + graphFailure)
    public static let guardTripped = AllotEvent("guard.tripped", ["removals", "overridden", "reason"])
    public static let groupShrunk = AllotEvent(
        "group.shrunk",
        ["group.id", "group.name", "users_before", "users_now", "cycles_seen", "held", "overridden"]
    )
    public static let usersSkipped = AllotEvent("users.skipped", user + ["reason"])
    public static let readProgress = AllotEvent("read.progress", ["users", "user_pages", "member_pages"])
    public static let applyProgress = AllotEvent("apply.progress", ["phase", "done", "total"])
    public static let stateRecovered = AllotEvent("state.recovered", ["reason"])
    public static let stateSaveFailed = AllotEvent("state.save_failed", ["error"])
    /// `allot apply FILE`: a saved change not sent because its user changed since the plan.
    public static let planStale = AllotEvent("plan.stale", user + ["reason"])

    // The fast path, between cycles.
    public static let fastPathChanges = AllotEvent("fastpath.changes", user + ["reasons"])
    public static let fastPathFinished = AllotEvent(
        "fastpath.finished",
        [
            "result", "users.affected", "users.deleted", "requests.delta", "requests.users", "requests.skus",
            "applied.adds", "applied.removals",
            "failed.adds", "failed.removals", "duration_seconds",
        ]
    )
    public static let fastPathFallback = AllotEvent("fastpath.fallback", ["reason"])
    public static let fastPathFailed = AllotEvent("fastpath.failed", ["error"])

    // The Graph client.
    public static let graphThrottled = AllotEvent(
        "graph.throttled",
        [
            "graph.operation", "graph.retry_after", "graph.client_request_id", "graph.throttle_scope",
            "graph.request_id", "user.id",
        ]
    )
    public static let graphRetry = AllotEvent(
        "graph.retry",
        ["graph.operation", "error", "attempt", "delay_ms", "graph.client_request_id"]
    )
    /// Diagnostic (debug level), not part of the contract.
    public static let graphRequest = AllotEvent(
        "graph.request",
        ["graph.operation", "graph.status", "graph.duration_ms", "graph.client_request_id", "error"]
    )
    /// Diagnostic (debug level), not part of the contract.
    public static let graphBatch = AllotEvent(
        "graph.batch",
        ["graph.items", "graph.status", "graph.retrying", "graph.client_request_id"]
    )

    // The daemon.
    public static let daemonStarted = AllotEvent("daemon.started", ["listen", "interval_seconds", "mode"])
    public static let policyLoaded = AllotEvent(
        "policy.loaded",
        ["policy.revision", "policy.files", "policy.count", "policy.skipped"]
    )
    public static let policyInvalid = AllotEvent("policy.invalid", ["errors", "error_count"])
    public static let daemonReloading = AllotEvent("daemon.reloading", [])
    public static let daemonStopping = AllotEvent("daemon.stopping", [])
    public static let daemonFailed = AllotEvent("daemon.failed", ["error", "errors"])

    /// The whole catalogue.
    public static let all: [AllotEvent] = [
        cycleStarted, cycleFinished, cycleFailed, driftDetected, licenseApplied, usageLocationSet, licenseFailed,
        seatsShort,
        policyConflict, userGone, permissionDenied, guardTripped, groupShrunk, usersSkipped, readProgress,
        applyProgress,
        stateRecovered, stateSaveFailed, planStale, fastPathChanges, fastPathFinished, fastPathFallback, fastPathFailed,
        graphThrottled,
        graphRetry, graphRequest, graphBatch, daemonStarted, policyLoaded, policyInvalid, daemonReloading,
        daemonStopping, daemonFailed,
    ]
}

extension Logger {
    /// Logs a catalogue event: the name goes in the `event` field.
    public func event(
        _ event: AllotEvent,
        level: Logger.Level = .info,
        _ message: @autoclosure () -> Logger.Message,
        _ metadata: @autoclosure () -> Logger.Metadata = [:],
        file: String = #fileID,
        function: String = #function,
        line: UInt = #line
    ) {
        log(
            level: level,
            message(),
            metadata: metadata().merging(["event": .string(event.name)]) { $1 },
            file: file,
            function: function,
            line: line
        )
    }
}
