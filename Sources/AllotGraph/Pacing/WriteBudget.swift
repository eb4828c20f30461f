import AllotCore
import Synchronization

/// Paces writes so that Allot stays inside Graph's identity write quota instead of
/// collecting 429s (3,000 writes per 150 s per application and tenant by default).
///
/// A pure state machine: no clock and no I/O. Times are offsets from an origin the caller
/// chooses (the client uses its own creation, and keeps one budget for all its `apply` calls,
/// because Graph counts the quota per application and tenant, not per call); the caller asks
/// ``reserve(upTo:atLeast:now:)`` before each batch and sleeps when told to wait.
///
/// ## How it paces
/// A token bucket. With a quota of `q` writes per window `W` and a `headroom` `h` (0.95):
///
///     refill rate  r = h × q / W          (19 writes/s for 3,000 per 150 s)
///     burst        b = (1 − h) × q        (150 writes)
///
/// Over any interval of length `W` at most `b + r × W = q` writes leave, so the quota holds
/// for every window, wherever Graph starts counting, while a small run (up to `b` writes) goes
/// out at once. Worked example for the default quota:
///
/// | writes queued | first batch at | last batch at (about) |
/// |--------------:|---------------:|----------------------:|
/// | 150           | 0 s            | 0 s (the burst)       |
/// | 3,000         | 0 s            | 150 s                 |
/// | 10,000        | 0 s            | 518 s                 |
///
/// ## Slowing down
/// - `x-ms-throttle-limit-percentage` (Graph sends it above 80 % of a limit, up to 1.8):
///   a usage above Allot's own pace (`max(0.8, h)`: someone else writes too) multiplies the
///   rate by `(max(0.8, h) / p)²` (0.90 at 1.0, 0.28 at 1.8 with the default headroom) until a
///   response arrives without it. Allot's own paced writes keep `p` near `h`, which is not
///   pressure: slowing down for them would leave the quota unused.
/// - A 429 empties the bucket, pauses all writes for the `Retry-After` it carried, and halves
///   the pace (multiplicative decrease, down to 1/16 of it): Graph throttled Allot although it
///   paced inside the quota, so someone else writes too, or the quota is smaller than configured.
/// - Every batch answered without a 429 gives the pace back slowly (additive increase): each
///   accepted write adds `1 / quota` of the full pace, so recovering from half the pace takes
///   half a quota of accepted writes (1,500 writes, about two minutes at the reduced pace).
///
/// | after           | pace (share of `r`) |
/// |-----------------|--------------------:|
/// | one 429         | 0.5                 |
/// | a second 429    | 0.25                |
/// | 750 writes more | 0.5                 |
/// | 2,250 more      | 1.0                 |
public struct WriteBudget: Sendable, Hashable {
    /// What the caller does now.
    public enum Action: Sendable, Hashable {
        /// Send this many writes now (at least 1, at most the number asked for).
        case send(Int)
        /// Send nothing before this time; then ask again.
        case wait(until: Duration)
    }

    /// Writes allowed per window.
    public let quotaWrites: Int
    public let window: Duration
    /// The largest number of writes that may leave at once.
    public let burst: Double
    /// Writes per second when Graph reports no pressure.
    public let ratePerSecond: Double
    private var tokens: Double
    private var updatedAt: Duration
    private var pausedUntil: Duration?
    /// 1 normally; below 1 while Graph reports pressure.
    public private(set) var pressureFactor: Double = 1
    /// 1 normally; halved by each 429, restored slowly by accepted writes.
    public private(set) var throttleFactor: Double = 1
    /// The lowest `throttleFactor`.
    static let minimumThrottleFactor = 1.0 / 16
    /// The `x-ms-throttle-limit-percentage` above which Graph's report means pressure.
    private let pressureThreshold: Double

    /// - Parameters:
    ///   - writes: the quota, writes per `window` (Graph: 3,000 per 150 s).
    ///   - headroom: the share of the quota paced over time (the rest is the burst).
    ///   - now: the time the budget starts, full.
    public init(writes: Int, window: Duration, headroom: Double = 0.95, now: Duration = .zero) {
        let writes = max(1, writes)
        let headroom = min(1, max(0.1, headroom))
        pressureThreshold = max(0.8, headroom)
        quotaWrites = writes
        self.window = window
        burst = max(1, ((1 - headroom) * Double(writes) + 1e-9).rounded(.down))
        ratePerSecond = (Double(writes) - burst) / max(window.timeInterval, 0.001)
        tokens = burst
        updatedAt = now
    }

    /// Asks to send up to `wanted` writes at `now`, and at least `minimum` (writes that must
    /// travel together, e.g. a usage-location PATCH and the license call that depends on it).
    public mutating func reserve(upTo wanted: Int, atLeast minimum: Int = 1, now: Duration) -> Action {
        refill(now: now)
        if let pausedUntil, now < pausedUntil { return .wait(until: pausedUntil) }
        pausedUntil = nil
        let needed = Double(min(max(minimum, 1), Int(burst)))
        if tokens >= needed {
            let granted = max(Int(needed), min(wanted, Int(tokens.rounded(.down))))
            tokens -= Double(granted)
            return .send(granted)
        }
        let seconds = (needed - tokens) / effectiveRate
        return .wait(until: now + .nanoseconds(Int64((seconds * 1e9).rounded(.up))))
    }

    /// Gives back writes that were reserved but not sent (e.g. the run was cancelled).
    public mutating func release(_ writes: Int, now: Duration) {
        refill(now: now)
        tokens = min(burst, tokens + Double(max(0, writes)))
    }

    /// Records the `x-ms-throttle-limit-percentage` of a write response (`nil` when absent).
    public mutating func observe(throttleLimitPercentage percentage: Double?, now: Duration) {
        refill(now: now)
        guard let percentage, percentage > pressureThreshold else {
            pressureFactor = 1
            return
        }
        let ratio = pressureThreshold / percentage
        pressureFactor = max(0.05, ratio * ratio)
    }

    /// Records writes Graph accepted without throttling: the pace recovers by `writes / quota`.
    public mutating func observeAccepted(writes: Int, now: Duration) {
        refill(now: now)
        throttleFactor = min(1, throttleFactor + Double(max(0, writes)) / Double(quotaWrites))
    }

    /// Records a throttled batch: everything waits for its `Retry-After`, and the pace halves.
    public mutating func observeThrottled(retryAfter: Duration, now: Duration) {
        refill(now: now)
        tokens = 0
        throttleFactor = max(Self.minimumThrottleFactor, throttleFactor / 2)
        let until = now + max(retryAfter, .zero)
        if let pausedUntil, pausedUntil >= until { return }
        pausedUntil = until
    }

    private var effectiveRate: Double { max(ratePerSecond * pressureFactor * throttleFactor, 1e-6) }

    private mutating func refill(now: Duration) {
        guard now > updatedAt else { return }
        let elapsed = (now - updatedAt).timeInterval
        tokens = min(burst, tokens + elapsed * effectiveRate)
        updatedAt = now
    }
}

/// A client's write budget, shared by its concurrent `apply` calls; its times are offsets
/// from ``origin``, the client's creation.
final class WritePacing: Sendable {
    let origin = ContinuousClock.now
    let budget: Mutex<WriteBudget>

    init(budget: WriteBudget) { self.budget = Mutex(budget) }
}
