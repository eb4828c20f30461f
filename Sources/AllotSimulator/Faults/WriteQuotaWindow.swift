import AllotCore

/// Graph's identity write quota, per application and tenant: at most `writes` writes in any
/// sliding `window`. A pure state machine; the caller passes the time.
struct WriteQuotaWindow: Sendable {
    /// What happens to one write.
    enum Decision: Equatable, Sendable {
        /// Let through; `usage` is the share of the quota used, counting this write (0...1).
        case allowed(usage: Double)
        /// Refused: 429, retry after this many seconds (when the oldest write leaves the window).
        case throttled(retryAfterSeconds: Int)
    }

    private struct Log: Sendable {
        var times: [ContinuousClock.Instant] = []
        var start = 0

        mutating func drop(before limit: ContinuousClock.Instant) {
            while start < times.count, times[start] <= limit { start += 1 }
            if start > 1024, start * 2 > times.count {
                times.removeFirst(start)
                start = 0
            }
        }

        var count: Int { times.count - start }
        var oldest: ContinuousClock.Instant? { start < times.count ? times[start] : nil }
    }

    let quota: SimulatedWriteQuota
    private var logs: [String: Log] = [:]

    init(quota: SimulatedWriteQuota) {
        self.quota = quota
    }

    mutating func admit(application: String, now: ContinuousClock.Instant) -> Decision {
        var log = logs[application, default: Log()]
        log.drop(before: now - quota.window)
        defer { logs[application] = log }
        if log.count >= quota.writes, let oldest = log.oldest {
            let wait = oldest + quota.window - now
            let seconds = max(1, Int(wait.timeInterval.rounded(.up)))
            return .throttled(retryAfterSeconds: seconds)
        }
        log.times.append(now)
        return .allowed(usage: Double(log.count) / Double(quota.writes))
    }
}
