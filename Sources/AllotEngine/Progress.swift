import AllotObservability
import Foundation
import Logging
import Synchronization

/// Shows progress on long work: a line redrawn in place on a terminal, or `read.progress` /
/// `apply.progress` log events (at most one every few seconds) when output is a log.
public final class ProgressReporter: Sendable {
    private enum Style { case terminal, events, silent }

    private let style: Style
    private let logger: Logger
    private let interval: Duration
    private let onProgress: (@Sendable () -> Void)?
    private let lastReport = Mutex<ContinuousClock.Instant?>(nil)

    /// - Parameters:
    ///   - terminal: draw a progress line on standard error (when it is a terminal).
    ///   - interval: the least time between two progress events.
    ///   - onProgress: called on every step (a page read, a chunk of writes answered), however
    ///     few events are logged; the daemon's liveness (`/healthz`, the watchdog) rests on it.
    public init(
        logger: Logger,
        terminal: Bool,
        interval: Duration = .seconds(5),
        onProgress: (@Sendable () -> Void)? = nil
    ) {
        self.logger = logger
        self.style = terminal ? .terminal : .events
        self.interval = interval
        self.onProgress = onProgress
    }

    private init() {
        logger = Logger(label: "allot.progress", factory: { _ in SwiftLogNoOpLogHandler() })
        style = .silent
        interval = .zero
        onProgress = nil
    }

    /// Reports nothing.
    public static let silent = ProgressReporter()

    /// Progress reading the tenant.
    public func reading(users: Int, userPages: Int, memberPages: Int) {
        report(line: "reading the tenant: \(users) users (\(userPages) pages), \(memberPages) group member pages") {
            logger.event(
                .readProgress,
                "Reading the tenant",
                [
                    "users": .stringConvertible(users), "user_pages": .stringConvertible(userPages),
                    "member_pages": .stringConvertible(memberPages),
                ]
            )
        }
    }

    /// Progress applying a phase.
    public func applying(phase: String, done: Int, total: Int) {
        report(line: "applying \(phase): \(done)/\(total) writes") {
            logger.event(
                .applyProgress,
                "Applying changes",
                [
                    "phase": .string(phase), "done": .stringConvertible(done), "total": .stringConvertible(total),
                ]
            )
        }
    }

    /// Ends the terminal line, if one is drawn.
    public func finish() {
        if style == .terminal { FileDescriptorWriter.standardError.write("\r\u{1B}[2K") }
    }

    private func report(line: String, event: () -> Void) {
        onProgress?()
        switch style {
        case .silent: return
        case .terminal: FileDescriptorWriter.standardError.write("\r\u{1B}[2K" + line)
        case .events:
            let now = ContinuousClock.now
            let due = lastReport.withLock { last in
                guard last.map({ now - $0 >= interval }) ?? true else { return false }
                last = now
                return true
            }
            if due { event() }
        }
    }
}
