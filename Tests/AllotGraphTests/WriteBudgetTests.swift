import Testing

@testable import AllotGraph

@Suite("Write budget")
struct WriteBudgetTests {
    @Test("the default quota splits into a 150-write burst and 19 writes per second")
    func defaults() {
        let budget = WriteBudget(writes: 3000, window: .seconds(150))
        #expect(budget.burst == 150)
        #expect(abs(budget.ratePerSecond - 19) < 1e-9)
    }

    @Test("the burst goes at once, then writes are paced")
    func burstThenPace() {
        var budget = WriteBudget(writes: 100, window: .seconds(10), headroom: 0.9)
        #expect(budget.reserve(upTo: 20, now: .zero) == .send(10))
        guard case .wait(let until) = budget.reserve(upTo: 20, now: .zero) else {
            Issue.record("expected a wait")
            return
        }
        // 9 writes per second: one write is ready after 1/9 s.
        #expect(until > .milliseconds(111) && until < .milliseconds(112))
        #expect(budget.reserve(upTo: 20, now: .seconds(1)) == .send(9))
    }

    @Test("no window ever carries more than the quota", arguments: [1, 7, 20])
    func quotaHolds(batch: Int) {
        let quota = 300
        let window = Duration.seconds(15)
        var budget = WriteBudget(writes: quota, window: window)
        var sent: [(Duration, Int)] = []
        var now = Duration.zero
        while now < .seconds(120) {
            switch budget.reserve(upTo: batch, now: now) {
            case .send(let count):
                sent.append((now, count))
            case .wait(let until):
                now = until
            }
        }
        // `now` only grows, so `sent` is in time order (checked): each window's writes lie between
        // two indices that only move forward, and their sum is a difference of running totals
        // (the same windows as filtering all of `sent` for each start, without the square).
        #expect(zip(sent, sent.dropFirst()).allSatisfy { $0.0 <= $1.0 })
        var totals = [0]
        for (_, count) in sent { totals.append(totals[totals.count - 1] + count) }
        var low = 0
        var high = 0
        for (start, _) in sent {
            while sent[low].0 < start { low += 1 }
            while high < sent.count && sent[high].0 < start + window { high += 1 }
            let inWindow = totals[high] - totals[low]
            #expect(inWindow <= quota)
        }
        let total = sent.reduce(0) { $0 + $1.1 }
        #expect(total > quota * 7)
    }

    @Test("writes that must travel together wait until all fit")
    func atLeast() {
        var budget = WriteBudget(writes: 20, window: .seconds(10), headroom: 0.9)
        #expect(budget.burst == 2)
        #expect(budget.reserve(upTo: 1, now: .zero) == .send(1))
        guard case .wait = budget.reserve(upTo: 2, atLeast: 2, now: .zero) else {
            Issue.record("expected a wait for two writes")
            return
        }
        #expect(budget.reserve(upTo: 2, atLeast: 2, now: .seconds(1)) == .send(2))
    }

    @Test("throttle-limit percentage above Allot's own pace slows it; its absence restores it")
    func pressure() {
        var budget = WriteBudget(writes: 100, window: .seconds(10), headroom: 0.9)
        budget.observe(throttleLimitPercentage: 0.5, now: .zero)
        #expect(budget.pressureFactor == 1)
        // Allot's own paced writes keep Graph's report near the headroom: that is not pressure.
        budget.observe(throttleLimitPercentage: 0.9, now: .zero)
        #expect(budget.pressureFactor == 1)
        budget.observe(throttleLimitPercentage: 1.8, now: .zero)
        #expect(budget.pressureFactor == 0.25)
        _ = budget.reserve(upTo: 10, now: .zero)
        // 9 writes/s × 0.25: one write needs 1/2.25 s.
        guard case .wait(let until) = budget.reserve(upTo: 1, now: .zero) else {
            Issue.record("expected a wait")
            return
        }
        #expect(until > .milliseconds(444) && until < .milliseconds(445))
        budget.observe(throttleLimitPercentage: nil, now: .zero)
        #expect(budget.pressureFactor == 1)
    }

    @Test("a 429 pauses every write for its Retry-After")
    func throttledPause() {
        var budget = WriteBudget(writes: 3000, window: .seconds(150))
        budget.observeThrottled(retryAfter: .seconds(5), now: .seconds(1))
        #expect(budget.reserve(upTo: 20, now: .seconds(2)) == .wait(until: .seconds(6)))
        #expect(budget.reserve(upTo: 20, now: .seconds(6)) == .send(20))
    }

    @Test("429s halve the pace (down to 1/16); accepted writes give it back slowly")
    func throttledSlowsDown() {
        var budget = WriteBudget(writes: 3000, window: .seconds(150))
        #expect(budget.throttleFactor == 1)
        budget.observeThrottled(retryAfter: .zero, now: .zero)
        #expect(budget.throttleFactor == 0.5)
        // Empty after the 429: 19 writes take 2 s at half of 19 writes/s.
        #expect(budget.reserve(upTo: 19, atLeast: 19, now: .zero) == .wait(until: .seconds(2)))
        budget.observeThrottled(retryAfter: .zero, now: .zero)
        #expect(budget.throttleFactor == 0.25)
        for _ in 0..<10 { budget.observeThrottled(retryAfter: .zero, now: .zero) }
        #expect(budget.throttleFactor == 1.0 / 16)
        budget.observeAccepted(writes: 750, now: .zero)
        #expect(budget.throttleFactor == 1.0 / 16 + 0.25)
        budget.observeAccepted(writes: 3000, now: .zero)
        #expect(budget.throttleFactor == 1)
    }

    @Test("released writes can be reserved again")
    func release() {
        var budget = WriteBudget(writes: 100, window: .seconds(10), headroom: 0.9)
        #expect(budget.reserve(upTo: 10, now: .zero) == .send(10))
        budget.release(4, now: .zero)
        #expect(budget.reserve(upTo: 10, now: .zero) == .send(4))
    }
}
