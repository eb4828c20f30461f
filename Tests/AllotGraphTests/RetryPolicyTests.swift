import Testing

@testable import AllotGraph

@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(
        maxRetries: 3,
        maxThrottledRetries: 2,
        baseDelay: .milliseconds(500),
        maxDelay: .seconds(2),
        jitter: 0.5
    )

    @Test("the backoff ceiling doubles and stops at maxDelay")
    func ceilingDoubles() {
        #expect(policy.backoffCeiling(retry: 1) == .milliseconds(500))
        #expect(policy.backoffCeiling(retry: 2) == .seconds(1))
        #expect(policy.backoffCeiling(retry: 3) == .seconds(2))
        #expect(policy.backoffCeiling(retry: 9) == .seconds(2))
    }

    @Test("jitter keeps each delay between half the ceiling and the ceiling")
    func jitterBounds() {
        var low = RetrySchedule(policy: policy)
        var high = RetrySchedule(policy: policy)
        #expect(low.record(.status(503, retryAfter: nil), random: 0) == .retry(after: .milliseconds(250)))
        #expect(high.record(.status(503, retryAfter: nil), random: 1) == .retry(after: .milliseconds(500)))
        #expect(low.record(.transport, random: 0) == .retry(after: .milliseconds(500)))
    }

    @Test("server errors and transport failures give up after maxRetries")
    func givesUp() {
        var schedule = RetrySchedule(policy: policy)
        for _ in 0..<3 {
            guard case .retry = schedule.record(.transport, random: 0.5) else {
                Issue.record("expected a retry")
                return
            }
        }
        #expect(schedule.record(.status(500, retryAfter: nil), random: 0.5) == .fail)
        #expect(schedule.retries == 3)
    }

    @Test("Retry-After is honoured as given, capped")
    func retryAfter() {
        var schedule = RetrySchedule(policy: RetryPolicy(maxRetryAfter: .seconds(60)))
        #expect(schedule.record(.status(429, retryAfter: .seconds(7)), random: 0.9) == .retry(after: .seconds(7)))
        #expect(schedule.record(.status(429, retryAfter: .seconds(600)), random: 0.9) == .retry(after: .seconds(60)))
        #expect(schedule.record(.status(503, retryAfter: .seconds(3)), random: 0.9) == .retry(after: .seconds(3)))
    }

    @Test("throttling has its own allowance")
    func throttledAllowance() {
        var schedule = RetrySchedule(policy: policy)
        #expect(schedule.record(.status(429, retryAfter: .seconds(1)), random: 0) == .retry(after: .seconds(1)))
        #expect(schedule.record(.status(429, retryAfter: .seconds(1)), random: 0) == .retry(after: .seconds(1)))
        #expect(schedule.record(.status(429, retryAfter: .seconds(1)), random: 0) == .fail)
        #expect(schedule.retries == 0)
        #expect(schedule.record(.status(502, retryAfter: nil), random: 0) == .retry(after: .milliseconds(250)))
    }

    @Test("client errors are never retried", arguments: [400, 401, 403, 404, 409, 424])
    func clientErrors(status: Int) {
        var schedule = RetrySchedule(policy: policy)
        #expect(schedule.record(.status(status, retryAfter: .seconds(1)), random: 0) == .fail)
    }
}
