import AllotEngine
import Logging
import Synchronization
import Testing

@Suite("Progress reporting")
struct ProgressReporterTests {
    /// Counts the steps a reporter passes on.
    final class Steps: Sendable {
        let count = Mutex(0)
    }

    @Test("onProgress hears every step, however few progress events the interval lets through")
    func everyStep() {
        let steps = Steps()
        let reporter = ProgressReporter(
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            terminal: false,
            interval: .seconds(3600)
        ) { steps.count.withLock { $0 += 1 } }
        for page in 1...3 { reporter.reading(users: page * 999, userPages: page, memberPages: 0) }
        reporter.applying(phase: "adds", done: 400, total: 800)
        reporter.applying(phase: "adds", done: 800, total: 800)
        #expect(steps.count.withLock { $0 } == 5)
    }
}
