import Synchronization

/// Where the simulator reads the time for behaviour that depends on it (the consistency lag),
/// so that a test can move time on instead of sleeping.
public protocol SimulatorClock: Sendable {
    var now: ContinuousClock.Instant { get }
}

/// The real, monotonic time.
public struct SystemSimulatorClock: SimulatorClock {
    public init() {}

    public var now: ContinuousClock.Instant { .now }
}

/// A clock that moves only when told to: tests advance it past a consistency lag.
public final class ManualSimulatorClock: SimulatorClock {
    private let current: Mutex<ContinuousClock.Instant>

    public init(start: ContinuousClock.Instant = .now) {
        current = Mutex(start)
    }

    public var now: ContinuousClock.Instant { current.withLock { $0 } }

    public func advance(by duration: Duration) {
        current.withLock { $0 += duration }
    }
}
