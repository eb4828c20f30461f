/// When and how often a failed Graph request is tried again.
///
/// A value type with no clock and no I/O: ``RetrySchedule`` is given each failure and
/// answers with an ``RetrySchedule/Action``; the caller sleeps and resends.
///
/// ## Backoff
/// Failures without a `Retry-After` (5xx, timeouts, dropped connections, a 429 without the
/// header) wait, before retry `n` (1 for the first retry):
///
///     ceiling(n) = min(maxDelay, baseDelay × 2^(n−1))
///     delay(n)   = ceiling(n) × (1 − jitter + jitter × r)      r uniform in [0, 1)
///
/// With the defaults (`baseDelay` 0.5 s, `maxDelay` 30 s, `jitter` 0.5, `maxRetries` 6):
///
/// | retry n | ceiling | delay drawn from | worst case so far |
/// |--------:|--------:|-----------------:|------------------:|
/// | 1       | 0.5 s   | 0.25 – 0.5 s     | 0.5 s             |
/// | 2       | 1 s     | 0.5 – 1 s        | 1.5 s             |
/// | 3       | 2 s     | 1 – 2 s          | 3.5 s             |
/// | 4       | 4 s     | 2 – 4 s          | 7.5 s             |
/// | 5       | 8 s     | 4 – 8 s          | 15.5 s            |
/// | 6       | 16 s    | 8 – 16 s         | 31.5 s            |
///
/// after which the request fails. Jitter spreads the retries of many clients (or many batch
/// items) so that they do not return in lockstep.
///
/// A response that carries `Retry-After` (Graph's 429, and some 503s) waits exactly that long
/// (capped at `maxRetryAfter`): Graph said when. Throttled responses have their own, larger
/// allowance (`maxThrottledRetries`), because being throttled is expected under load and says
/// nothing about the request being wrong.
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after a server error, timeout or dropped connection.
    public var maxRetries: Int
    /// Retries after a 429.
    public var maxThrottledRetries: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The share (0...1) of each delay that is random.
    public var jitter: Double
    /// The longest `Retry-After` honoured as given; longer ones are cut to this.
    public var maxRetryAfter: Duration

    public init(
        maxRetries: Int = 6,
        maxThrottledRetries: Int = 12,
        baseDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(30),
        jitter: Double = 0.5,
        maxRetryAfter: Duration = .seconds(300)
    ) {
        self.maxRetries = maxRetries
        self.maxThrottledRetries = maxThrottledRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(1, max(0, jitter))
        self.maxRetryAfter = maxRetryAfter
    }

    /// Whether a status is worth retrying: 429, 408 and the transient 5xx.
    public static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 408 || status == 500 || status == 502 || status == 503 || status == 504
    }

    /// The ceiling of the `n`-th backoff delay (`n` from 1), before jitter.
    public func backoffCeiling(retry n: Int) -> Duration {
        let exponent = min(max(n - 1, 0), 30)
        let ceiling = baseDelay * (1 << exponent)
        return min(ceiling, maxDelay)
    }
}

/// The retry state of one request: how many retries it has had, and what to do next.
public struct RetrySchedule: Sendable, Hashable {
    /// A failed attempt, as far as retrying is concerned.
    public enum Failure: Sendable, Hashable {
        /// An HTTP status (retryable or not), with its `Retry-After` if any.
        case status(Int, retryAfter: Duration?)
        /// No usable response: a timeout, a dropped connection, a refused connection.
        case transport
    }

    /// What the caller does next.
    public enum Action: Sendable, Hashable {
        case retry(after: Duration)
        /// Give up: the failure is final (not retryable, or the retries are used up).
        case fail
    }

    public let policy: RetryPolicy
    public private(set) var retries = 0
    public private(set) var throttledRetries = 0

    public init(policy: RetryPolicy) {
        self.policy = policy
    }

    /// Records a failure and decides. `random` is a number in `[0, 1)` (the jitter draw).
    public mutating func record(_ failure: Failure, random: Double) -> Action {
        switch failure {
        case let .status(status, retryAfter) where status == 429:
            guard throttledRetries < policy.maxThrottledRetries else { return .fail }
            throttledRetries += 1
            if let retryAfter { return .retry(after: min(max(retryAfter, .zero), policy.maxRetryAfter)) }
            return .retry(after: jittered(policy.backoffCeiling(retry: throttledRetries), random: random))
        case let .status(status, retryAfter):
            guard RetryPolicy.isRetryable(status: status), retries < policy.maxRetries else { return .fail }
            retries += 1
            if let retryAfter { return .retry(after: min(max(retryAfter, .zero), policy.maxRetryAfter)) }
            return .retry(after: jittered(policy.backoffCeiling(retry: retries), random: random))
        case .transport:
            guard retries < policy.maxRetries else { return .fail }
            retries += 1
            return .retry(after: jittered(policy.backoffCeiling(retry: retries), random: random))
        }
    }

    private func jittered(_ ceiling: Duration, random: Double) -> Duration {
        let fraction = 1 - policy.jitter + policy.jitter * min(max(random, 0), 1)
        return ceiling * fraction
    }
}
