import AllotCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

extension GraphClient {
    /// Applies writes through `POST /$batch`, 20 requests per batch, paced inside the write
    /// quota (``WriteBudget``), and returns one result per write, in the order given.
    ///
    /// - A user's usage-location PATCH and license call travel in one batch, the license call
    ///   `dependsOn` the PATCH.
    /// - A throttled item is retried on its own after its own `Retry-After`; 5xx, timeouts and
    ///   dropped connections are retried with backoff (``RetryPolicy``); other 4xx are not
    ///   retried but classified (``GraphWriteError/Kind``).
    /// - Cancellation-safe: when the task is cancelled (SIGTERM), no new batch starts; the
    ///   batches in flight finish and are reported; writes never sent come back as
    ///   ``GraphWriteResult/Outcome/notSent``.
    public func apply(_ writes: [GraphWrite]) async -> [GraphWriteResult] {
        var outcomes = [GraphWriteResult.Outcome?](repeating: nil, count: writes.count)
        var queue = WriteUnit.units(for: writes, retry: configuration.retry)
        let clock = ContinuousClock()
        let origin = writePacing.origin
        let maxBatches = configuration.concurrency.writeBatches

        await withTaskGroup(of: WriteEvent.self) { group in
            var inFlight = 0
            var timers: [Duration] = []
            var stopping = false
            func arm(_ wake: Duration) {
                guard timers.allSatisfy({ $0 > wake }) else { return }
                timers.append(wake)
                group.addTask {
                    try? await Task.sleep(until: origin + wake, clock: clock)
                    return .timer(wake)
                }
            }
            while true {
                if Task.isCancelled { stopping = true }
                var wakeAt: Duration?
                while !stopping, inFlight < maxBatches {
                    let now = clock.now - origin
                    guard let selection = WriteUnit.nextBatch(from: queue, now: now) else {
                        wakeAt = queue.map(\.notBefore).min()
                        break
                    }
                    // A whole batch or nothing: once the burst is spent, batches leave full.
                    switch writePacing.budget.withLock({ $0.reserve(upTo: selection.requests, atLeast: selection.requests, now: now) }) {
                    case .wait(let until):
                        wakeAt = until
                    case .send(let granted):
                        let batch = WriteUnit.take(from: &queue, candidates: selection.indices, limit: granted)
                        let used = batch.reduce(0) { $0 + $1.items.count }
                        if used < granted { writePacing.budget.withLock { $0.release(granted - used, now: now) } }
                        inFlight += 1
                        group.addTask {
                            // Shielded from cancellation: a batch that has started is finished and reported.
                            await Task { await self.sendBatch(batch, writes: writes) }.value
                        }
                        continue
                    }
                    break
                }
                if inFlight == 0 && (stopping || queue.isEmpty) { break }
                if !stopping, let wakeAt { arm(wakeAt) }
                guard let event = await group.next() else { break }
                switch event {
                case .timer(let wake):
                    timers.removeAll { $0 == wake }
                case .batch(let outcome):
                    inFlight -= 1
                    let now = clock.now - origin
                    writePacing.budget.withLock { budget in
                        budget.observe(throttleLimitPercentage: outcome.throttleLimitPercentage, now: now)
                        if let retryAfter = outcome.throttledFor { budget.observeThrottled(retryAfter: retryAfter, now: now) }
                    }
                    for (index, result) in outcome.finished { outcomes[index] = result }
                    for var unit in outcome.retry {
                        unit.notBefore = now + unit.delay
                        queue.append(unit)
                    }
                }
            }
            group.cancelAll()  // wakes the timers still sleeping
        }
        for unit in queue {
            for item in unit.items where outcomes[item.index] == nil { outcomes[item.index] = .notSent }
        }
        return writes.indices.map { GraphWriteResult(write: writes[$0], outcome: outcomes[$0] ?? .notSent) }
    }

    /// Sends one batch and sorts its items into finished and to-retry.
    private func sendBatch(_ units: [WriteUnit], writes: [GraphWrite]) async -> WriteEvent {
        var requests: [BatchRequest.Item] = []
        var idOfItem: [Int: String] = [:]
        for unit in units {
            var previous: String?
            for item in unit.items {
                let id = String(requests.count + 1)
                idOfItem[item.index] = id
                requests.append(BatchRequest.Item(id: id, write: writes[item.index], dependsOn: previous.map { [$0] }))
                previous = id
            }
        }
        var outcome = BatchOutcome()
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(BatchRequest(requests: requests)))
        } catch {
            preconditionFailure("a batch always encodes: \(error)")
        }
        let response: GraphResponse
        do {
            response = try await executor.send(
                .POST, "\(graph.base)/$batch", host: graph.host, operation: "POST /$batch",
                headers: [("Content-Type", "application/json")], body: body, authorizer: authorizer)
        } catch {
            let requestError = error as? GraphRequestError
            for unit in units {
                for item in unit.items {
                    outcome.finished.append(
                        (item.index,
                            .failed(
                                GraphWriteError(
                                    kind: .unavailable, user: writes[item.index].user, operation: writes[item.index].operation,
                                    status: requestError?.status, code: requestError?.code,
                                    message: requestError?.message ?? "\(error)", clientRequestId: requestError?.clientRequestId))))
                }
            }
            return .batch(outcome)
        }
        outcome.throttleLimitPercentage = response.throttleLimitPercentage
        guard response.isSuccess, let decoded = try? JSONDecoder().decode(BatchResponse.self, from: Data(response.body.readableBytesView)) else {
            let batchError = response.isSuccess
                ? GraphRequestError(
                    operation: "POST /$batch", status: response.status, code: nil, message: "the batch response could not be decoded",
                    clientRequestId: response.clientRequestId)
                : response.error(operation: "POST /$batch")
            for unit in units {
                for item in unit.items {
                    let write = writes[item.index]
                    let kind = response.isSuccess
                        ? GraphWriteError.Kind.other : GraphWriteError.Kind.classify(
                            status: response.status, code: batchError.code, message: batchError.message)
                    outcome.finished.append(
                        (item.index,
                            .failed(
                                GraphWriteError(
                                    kind: kind, user: write.user, operation: write.operation, status: batchError.status,
                                    code: batchError.code, message: batchError.message, clientRequestId: response.clientRequestId))))
                }
            }
            return .batch(outcome)
        }
        var byId: [String: BatchResponse.Item] = [:]
        for item in decoded.responses { byId[item.id] = item }
        for var unit in units {
            var retrying: [WriteUnit.Item] = []
            var failedBefore: GraphWriteError?
            var delay = Duration.zero
            for var item in unit.items {
                let write = writes[item.index]
                guard let answer = byId[idOfItem[item.index]!] else {
                    // Graph left the item out: treat it like a transient failure.
                    switch item.schedule.record(.transport, random: Double.random(in: 0..<1)) {
                    case .retry(let after):
                        delay = max(delay, after)
                        retrying.append(item)
                    case .fail:
                        outcome.finished.append(
                            (item.index,
                                .failed(
                                    GraphWriteError(
                                        kind: .unavailable, user: write.user, operation: write.operation, status: nil, code: nil,
                                        message: "the batch response did not include this request",
                                        clientRequestId: response.clientRequestId))))
                    }
                    continue
                }
                GraphMetrics.request(operation: write.operation, status: answer.status)
                if let percentage = answer.throttleLimitPercentage {
                    outcome.throttleLimitPercentage = max(outcome.throttleLimitPercentage ?? 0, percentage)
                }
                if (200..<300).contains(answer.status) {
                    outcome.finished.append((item.index, .applied))
                    continue
                }
                if answer.status == 424, !retrying.isEmpty {
                    // Its PATCH is being retried: retry both together, without counting an attempt.
                    retrying.append(item)
                    continue
                }
                if answer.status == 424, let failedBefore {
                    outcome.finished.append(
                        (item.index,
                            .failed(
                                GraphWriteError(
                                    kind: .dependencyFailed, user: write.user, operation: write.operation, status: 424,
                                    code: answer.body?.error?.code,
                                    message: "not run because \(failedBefore.operation) failed: \(failedBefore.message)",
                                    clientRequestId: response.clientRequestId))))
                    continue
                }
                if RetryPolicy.isRetryable(status: answer.status) {
                    if answer.status == 429 {
                        GraphMetrics.throttled(operation: write.operation)
                        outcome.throttledFor = max(outcome.throttledFor ?? .zero, answer.retryAfter ?? .zero)
                        logger.notice(
                            "Graph throttled a write in a batch",
                            metadata: [
                                "event": "graph.throttled", "graph.operation": "\(write.operation)", "user.id": "\(write.user)",
                                "graph.retry_after": "\(answer.retryAfter.map { "\($0)" } ?? "none")",
                                "graph.client_request_id": "\(response.clientRequestId)",
                            ])
                    }
                    switch item.schedule.record(.status(answer.status, retryAfter: answer.retryAfter), random: Double.random(in: 0..<1)) {
                    case .retry(let after):
                        delay = max(delay, after)
                        retrying.append(item)
                        continue
                    case .fail:
                        break
                    }
                }
                let message = answer.body?.error?.message ?? "HTTP \(answer.status) without an error message"
                let error = GraphWriteError(
                    kind: .classify(status: answer.status, code: answer.body?.error?.code, message: message),
                    user: write.user, operation: write.operation, status: answer.status, code: answer.body?.error?.code,
                    message: message, clientRequestId: response.clientRequestId)
                failedBefore = error
                outcome.finished.append((item.index, .failed(error)))
            }
            if !retrying.isEmpty {
                unit.items = retrying
                unit.delay = delay
                outcome.retry.append(unit)
            }
        }
        logger.debug(
            "graph batch done",
            metadata: [
                "event": "graph.batch", "graph.items": "\(requests.count)", "graph.retrying": "\(outcome.retry.count)",
                "graph.client_request_id": "\(response.clientRequestId)",
            ])
        return .batch(outcome)
    }
}

/// Writes that travel together: one user's PATCH (first) and license call.
struct WriteUnit: Sendable {
    struct Item: Sendable {
        /// The write's index in the caller's array.
        let index: Int
        var schedule: RetrySchedule
    }

    var items: [Item]
    /// Not to be sent before this time (a retry's `Retry-After` or backoff).
    var notBefore: Duration = .zero
    /// The delay to apply when the unit is queued again.
    var delay: Duration = .zero

    /// One unit per user and kind pairing: a user's first PATCH and first license call share a
    /// unit (PATCH first); anything more for the same user gets units of its own.
    static func units(for writes: [GraphWrite], retry: RetryPolicy) -> [WriteUnit] {
        var units: [WriteUnit] = []
        var open: [GUID: Int] = [:]
        for (index, write) in writes.enumerated() {
            let item = Item(index: index, schedule: RetrySchedule(policy: retry))
            if let unitIndex = open[write.user], units[unitIndex].items.count == 1,
                writes[units[unitIndex].items[0].index].method != write.method
            {
                if case .setUsageLocation = write {
                    units[unitIndex].items.insert(item, at: 0)
                } else {
                    units[unitIndex].items.append(item)
                }
                open[write.user] = nil
            } else {
                open[write.user] = units.count
                units.append(WriteUnit(items: [item]))
            }
        }
        return units
    }

    /// The ready units that fit one batch (20 requests, units whole): their indices and how
    /// many requests they hold.
    static func nextBatch(from queue: [WriteUnit], now: Duration) -> (indices: [Int], requests: Int)? {
        var indices: [Int] = []
        var requests = 0
        for (index, unit) in queue.enumerated() where unit.notBefore <= now {
            guard requests + unit.items.count <= BatchRequest.maxRequests else { break }
            indices.append(index)
            requests += unit.items.count
        }
        guard !indices.isEmpty else { return nil }
        return (indices, requests)
    }

    /// Removes and returns the candidate units that fit within `limit` requests.
    static func take(from queue: inout [WriteUnit], candidates: [Int], limit: Int) -> [WriteUnit] {
        var chosen: [Int] = []
        var used = 0
        for index in candidates where used + queue[index].items.count <= limit {
            chosen.append(index)
            used += queue[index].items.count
        }
        let batch = chosen.map { queue[$0] }
        for index in chosen.reversed() { queue.remove(at: index) }
        return batch
    }
}

/// What a finished batch (or a timer) tells the coordinator.
enum WriteEvent: Sendable {
    case timer(Duration)
    case batch(BatchOutcome)
}

struct BatchOutcome: Sendable {
    var finished: [(Int, GraphWriteResult.Outcome)] = []
    var retry: [WriteUnit] = []
    /// The longest `Retry-After` among throttled items, if any were throttled.
    var throttledFor: Duration?
    var throttleLimitPercentage: Double?
}

/// The JSON batch request body.
struct BatchRequest: Encodable {
    /// Graph's limit of requests per batch.
    static let maxRequests = 20

    struct Item: Encodable {
        let id: String
        let method: String
        let url: String
        let dependsOn: [String]?
        let headers: [String: String]
        let body: Body

        init(id: String, write: GraphWrite, dependsOn: [String]?) {
            self.id = id
            method = write.method
            url = write.relativeURL
            self.dependsOn = dependsOn
            headers = ["Content-Type": "application/json"]
            switch write {
            case .assignLicense(_, let body): self.body = .assignLicense(body)
            case .setUsageLocation(_, let code): self.body = .usageLocation(code)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(method, forKey: .method)
            try container.encode(url, forKey: .url)
            try container.encodeIfPresent(dependsOn, forKey: .dependsOn)
            try container.encode(headers, forKey: .headers)
            try container.encode(body, forKey: .body)
        }

        private enum CodingKeys: String, CodingKey { case id, method, url, dependsOn, headers, body }
    }

    enum Body: Encodable {
        case assignLicense(AssignLicenseBody)
        case usageLocation(String)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .assignLicense(let body): try body.encode(to: encoder)
            case .usageLocation(let code): try ["usageLocation": code].encode(to: encoder)
            }
        }
    }

    let requests: [Item]
}

/// The JSON batch response body.
struct BatchResponse: Decodable {
    struct Item: Decodable {
        let id: String
        let status: Int
        let headers: [String: String]?
        let body: ItemBody?

        func header(_ name: String) -> String? {
            headers?.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }

        var retryAfter: Duration? { header("Retry-After").flatMap(Duration.init(retryAfter:)) }
        var throttleLimitPercentage: Double? { header("x-ms-throttle-limit-percentage").flatMap(Double.init) }

        private enum CodingKeys: String, CodingKey { case id, status, headers, body }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            status = try container.decode(Int.self, forKey: .status)
            headers = try? container.decodeIfPresent([String: String].self, forKey: .headers)
            body = try? container.decodeIfPresent(ItemBody.self, forKey: .body)
        }
    }

    struct ItemBody: Decodable {
        let error: GraphErrorEnvelope.Body?
    }

    let responses: [Item]
}
