import Logging

/// A log event name from the documented catalogue (`docs/log-events.md`). Alerting reads these
/// names and their fields, so they are a stable contract: names are only ever added.
public struct AllotEvent: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    private init(_ name: String) { self.name = name }

    public var description: String { name }

    public static let policyLoaded = AllotEvent("policy.loaded")
    public static let policyInvalid = AllotEvent("policy.invalid")
    public static let cycleStarted = AllotEvent("cycle.started")
    public static let cycleFinished = AllotEvent("cycle.finished")
    public static let cycleFailed = AllotEvent("cycle.failed")
    public static let readProgress = AllotEvent("read.progress")
    public static let applyProgress = AllotEvent("apply.progress")
    public static let driftDetected = AllotEvent("drift.detected")
    public static let licenseApplied = AllotEvent("license.applied")
    public static let licenseFailed = AllotEvent("license.failed")
    public static let seatsShort = AllotEvent("seats.short")
    public static let guardTripped = AllotEvent("guard.tripped")
    public static let groupShrunk = AllotEvent("group.shrunk")
    public static let graphThrottled = AllotEvent("graph.throttled")
    public static let graphRetry = AllotEvent("graph.retry")
    public static let usageLocationSet = AllotEvent("usage_location.set")
    public static let usersSkipped = AllotEvent("users.skipped")
    public static let userGone = AllotEvent("user.gone")
    public static let policyConflict = AllotEvent("policy.conflict")
    public static let permissionDenied = AllotEvent("permission.denied")
    public static let planStale = AllotEvent("plan.stale")
    public static let stateRecovered = AllotEvent("state.recovered")
    public static let stateSaveFailed = AllotEvent("state.save_failed")
    public static let fastPathChanges = AllotEvent("fastpath.changes")
    public static let fastPathFinished = AllotEvent("fastpath.finished")
    public static let fastPathFallback = AllotEvent("fastpath.fallback")
    public static let fastPathFailed = AllotEvent("fastpath.failed")
    public static let daemonStarted = AllotEvent("daemon.started")
    public static let daemonReloading = AllotEvent("daemon.reloading")
    public static let daemonStopping = AllotEvent("daemon.stopping")
    public static let daemonFailed = AllotEvent("daemon.failed")
}

extension Logger {
    /// Logs a catalogue event: the name goes in the `event` field.
    public func event(
        _ event: AllotEvent, level: Logger.Level = .info, _ message: @autoclosure () -> Logger.Message,
        _ metadata: @autoclosure () -> Logger.Metadata = [:], file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: level, message(), metadata: metadata().merging(["event": .string(event.name)]) { $1 }, file: file, function: function, line: line)
    }
}
