import AllotCore
import AllotObservability
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

extension GraphClient {
    /// Applies writes through `POST /$batch`, up to 20 requests per batch, paced inside the
    /// write quota (``WriteBudget``), and returns one result per write, in the order given.
    ///
    /// - Every batch is fully parallel: Graph refuses a batch that mixes `dependsOn` with
    ///   independent requests, and runs parallel requests in no promised order. So the writes of
    ///   one call must not depend on each other, with one exception the client sequences itself:
    ///   a user's usage-location PATCH and license call go in separate batches, the license call
    ///   only once the PATCH was answered 2xx (if the PATCH fails, the license call fails as
    ///   ``GraphWriteError/Kind/dependencyFailed`` without being sent). A license call refused
    ///   for the usage location right after its PATCH succeeded is retried once after
    ///   ``Configuration/replicationDelay`` (the directory had not replicated the PATCH yet).
    /// - A throttled item is retried on its own after its own `Retry-After`; 5xx, timeouts and
    ///   dropped connections are retried with backoff (``RetryPolicy``); other 4xx are not
    ///   retried but classified (``GraphWriteError/Kind``), Graph's code first.
    /// - "User does not have a corresponding license" (a removal already made, typically by an
    ///   attempt whose answer was lost) is checked by reading the user: when the user's licenses
    ///   are what the call asked for, the write is ``GraphWriteResult/Outcome/applied``.
    /// - The first 403 (`Authorization_RequestDenied`: the app lacks a permission) stops the
    ///   run: batches in flight finish, nothing more is sent (``GraphWriteResult/Outcome/notSent``).
    /// - Cancellation-safe: when the task is cancelled (SIGTERM), no new batch starts; the
    ///   batches in flight finish and are reported; writes never sent come back as
    ///   ``GraphWriteResult/Outcome/notSent``.
    ///
    /// - Parameter onProgress: called after each answered batch with the number of writes
    ///   finished so far (for progress lines and the daemon's liveness).
    public func apply(
        _ writes: [GraphWrite],
        onProgress: (@Sendable (_ finished: Int) -> Void)? = nil
    ) async -> [GraphWriteResult] {
        var outcomes = [GraphWriteResult.Outcome?](repeating: nil, count: writes.count)
        var queue = WriteUnit.units(for: writes, retry: configuration.retry)
        let clock = ContinuousClock()
        let origin = writePacing.origin
        let maxBatches = configuration.concurrency.writeBatches

        var finishedCount = 0
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
                    let requests = selection.count
                    switch writePacing.budget.withLock({ $0.reserve(upTo: requests, atLeast: requests, now: now) }) {
                    case .wait(let until):
                        wakeAt = until
                    case .send(let granted):
                        let batch = WriteUnit.take(from: &queue, candidates: selection, limit: granted)
                        if batch.count < granted {
                            writePacing.budget.withLock { $0.release(granted - batch.count, now: now) }
                        }
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
                        if let retryAfter = outcome.throttledFor {
                            budget.observeThrottled(retryAfter: retryAfter, now: now)
                        } else {
                            budget.observeAccepted(writes: outcome.finished.count, now: now)
                        }
                    }
                    for (index, result) in outcome.finished { outcomes[index] = result }
                    finishedCount += outcome.finished.count
                    onProgress?(finishedCount)
                    for var unit in outcome.retry {
                        unit.notBefore = now + unit.delay
                        queue.append(unit)
                    }
                    if outcome.permissionDenied { stopping = true }
                }
            }
            group.cancelAll()  // wakes the timers still sleeping
        }
        for unit in queue {
            for item in unit.items where outcomes[item.index] == nil { outcomes[item.index] = .notSent }
        }
        return writes.indices.map { GraphWriteResult(write: writes[$0], outcome: outcomes[$0] ?? .notSent) }
    }

    /// Sends the next write of each unit in one parallel batch and sorts the answers into
    /// finished and to-retry.
    private func sendBatch(_ units: [WriteUnit], writes: [GraphWrite]) async -> WriteEvent {
        let requests = units.enumerated().map { position, unit in
            BatchRequest.Item(id: String(position + 1), write: writes[unit.items[0].index])
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
            // The batch's own 429 and an answer that carries per-request responses come back
            // here: items are settled one by one (resending the whole batch would repeat the
            // writes that went through), and a throttled batch slows the pace.
            response = try await executor.send(
                .POST,
                "\(graph.base)/$batch",
                host: graph.host,
                operation: "POST /$batch",
                headers: [("Content-Type", "application/json")],
                body: body,
                authorizer: authorizer,
                isFinal: { $0.status == 429 || BatchResponse.decode($0.body) != nil }
            )
        } catch {
            let requestError = error as? GraphRequestError
            for unit in units {
                let write = writes[unit.items[0].index]
                fail(
                    unit,
                    with: GraphWriteError(
                        kind: .unavailable,
                        user: write.user,
                        operation: write.operation,
                        status: requestError?.status,
                        code: requestError?.code,
                        message: requestError?.message ?? "\(error)",
                        clientRequestId: requestError?.clientRequestId
                    ),
                    writes: writes,
                    into: &outcome
                )
            }
            return .batch(outcome)
        }
        outcome.throttleLimitPercentage = response.throttleLimitPercentage
        guard let decoded = BatchResponse.decode(response.body) else {
            if response.status == 429 {
                // The batch itself was throttled before any request ran: all of it waits.
                GraphMetrics.throttled(operation: "POST /$batch")
                logThrottled(
                    operation: "POST /$batch",
                    user: nil,
                    retryAfter: response.retryAfter,
                    scope: response.headers.first(name: "x-ms-throttle-scope"),
                    requestId: response.headers.first(name: "request-id"),
                    clientRequestId: response.clientRequestId
                )
                outcome.throttledFor = response.retryAfter ?? configuration.retry.backoffCeiling(retry: 1)
                for var unit in units {
                    switch unit.items[0].schedule.record(
                        .status(429, retryAfter: response.retryAfter),
                        random: Double.random(in: 0..<1)
                    ) {
                    case .retry(let after):
                        unit.delay = after
                        outcome.retry.append(unit)
                    case .fail:
                        let write = writes[unit.items[0].index]
                        fail(
                            unit,
                            with: GraphWriteError(
                                kind: .throttled,
                                user: write.user,
                                operation: write.operation,
                                status: 429,
                                code: "TooManyRequests",
                                message: "the batch was still throttled after the retries allowed",
                                clientRequestId: response.clientRequestId
                            ),
                            writes: writes,
                            into: &outcome
                        )
                    }
                }
                return .batch(outcome)
            }
            let batchError =
                response.isSuccess
                ? GraphRequestError(
                    operation: "POST /$batch",
                    status: response.status,
                    code: nil,
                    message: "the batch response could not be decoded",
                    clientRequestId: response.clientRequestId
                )
                : response.error(operation: "POST /$batch")
            let kind =
                response.isSuccess
                ? GraphWriteError.Kind.other
                : .classify(status: response.status, code: batchError.code, message: batchError.message)
            if kind == .permissionDenied { outcome.permissionDenied = true }
            for unit in units {
                let write = writes[unit.items[0].index]
                fail(
                    unit,
                    with: GraphWriteError(
                        kind: kind,
                        user: write.user,
                        operation: write.operation,
                        status: batchError.status,
                        code: batchError.code,
                        message: batchError.message,
                        clientRequestId: response.clientRequestId
                    ),
                    writes: writes,
                    into: &outcome
                )
            }
            return .batch(outcome)
        }
        var byId: [String: BatchResponse.Item] = [:]
        for item in decoded.responses { byId[item.id] = item }
        for (position, unit) in units.enumerated() {
            await settle(
                unit,
                answer: byId[String(position + 1)],
                writes: writes,
                clientRequestId: response.clientRequestId,
                into: &outcome
            )
        }
        logger.event(
            .graphBatch,
            level: .debug,
            "graph batch done",
            [
                "graph.items": "\(requests.count)", "graph.status": "\(response.status)",
                "graph.retrying": "\(outcome.retry.count)", "graph.client_request_id": "\(response.clientRequestId)",
            ]
        )
        return .batch(outcome)
    }

    /// Decides what becomes of a unit whose next write was answered (or left out of the answer).
    private func settle(
        _ unit: WriteUnit,
        answer: BatchResponse.Item?,
        writes: [GraphWrite],
        clientRequestId: String,
        into outcome: inout BatchOutcome
    ) async {
        var unit = unit
        let index = unit.items[0].index
        let write = writes[index]
        guard let answer else {
            // Graph left the request out: treat it like a transient failure.
            switch unit.items[0].schedule.record(.transport, random: Double.random(in: 0..<1)) {
            case .retry(let after):
                unit.delay = after
                outcome.retry.append(unit)
            case .fail:
                fail(
                    unit,
                    with: GraphWriteError(
                        kind: .unavailable,
                        user: write.user,
                        operation: write.operation,
                        status: nil,
                        code: nil,
                        message: "the batch response did not include this request",
                        clientRequestId: clientRequestId
                    ),
                    writes: writes,
                    into: &outcome
                )
            }
            return
        }
        GraphMetrics.request(operation: write.operation, status: answer.status)
        if let percentage = answer.throttleLimitPercentage {
            outcome.throttleLimitPercentage = max(outcome.throttleLimitPercentage ?? 0, percentage)
        }
        if (200..<300).contains(answer.status) {
            outcome.finished.append((index, .applied))
            unit.items.removeFirst()
            if case .setUsageLocation = write { unit.usageLocationSet = true }
            if !unit.items.isEmpty {
                unit.delay = .zero
                outcome.retry.append(unit)
            }
            return
        }
        if RetryPolicy.isRetryable(status: answer.status) {
            if answer.status == 429 {
                GraphMetrics.throttled(operation: write.operation)
                outcome.throttledFor = max(outcome.throttledFor ?? .zero, answer.retryAfter ?? .zero)
                logThrottled(
                    operation: write.operation,
                    user: write.user,
                    retryAfter: answer.retryAfter,
                    scope: answer.header("x-ms-throttle-scope"),
                    requestId: answer.header("request-id"),
                    clientRequestId: clientRequestId
                )
            }
            if case .retry(let after) = unit.items[0].schedule.record(
                .status(answer.status, retryAfter: answer.retryAfter),
                random: Double.random(in: 0..<1)
            ) {
                unit.delay = after
                outcome.retry.append(unit)
                return
            }
        }
        let message = answer.body?.error?.message ?? "HTTP \(answer.status) without an error message"
        let code = answer.body?.error?.code
        var error = GraphWriteError(
            kind: .classify(status: answer.status, code: code, message: message),
            user: write.user,
            operation: write.operation,
            status: answer.status,
            code: code,
            message: message,
            clientRequestId: clientRequestId
        )
        switch error.kind {
        case .usageLocation where unit.usageLocationSet && !unit.retriedForReplication:
            unit.retriedForReplication = true
            unit.delay = configuration.replicationDelay
            outcome.retry.append(unit)
            return
        case .licenseNotHeld:
            switch await licensesMatch(write) {
            case true?:
                outcome.finished.append((index, .applied))
                return
            case false?: break
            case nil:
                error.message +=
                    " (the user's licenses could not be read to check whether an earlier attempt made the change)"
            }
        case .permissionDenied:
            outcome.permissionDenied = true
        default: break
        }
        fail(unit, with: error, writes: writes, into: &outcome)
    }

    /// Fails the unit's next write with `error`, and the writes after it as not sent because of
    /// it (simply not sent when the application lacks a permission: nothing more goes out).
    private func fail(
        _ unit: WriteUnit,
        with error: GraphWriteError,
        writes: [GraphWrite],
        into outcome: inout BatchOutcome
    ) {
        outcome.finished.append((unit.items[0].index, .failed(error)))
        for item in unit.items.dropFirst() {
            guard error.kind != .permissionDenied else {
                outcome.finished.append((item.index, .notSent))
                continue
            }
            let write = writes[item.index]
            outcome.finished.append(
                (
                    item.index,
                    .failed(
                        GraphWriteError(
                            kind: .dependencyFailed,
                            user: write.user,
                            operation: write.operation,
                            status: nil,
                            code: nil,
                            message: "not sent because \(error.operation) failed: \(error.message)",
                            clientRequestId: error.clientRequestId
                        )
                    )
                )
            )
        }
    }

    /// Whether the user's direct assignments are now what an `assignLicense` call asked for
    /// (every add with exactly its disabled plans, no removed SKU); `nil` when the user could not be read.
    func licensesMatch(_ write: GraphWrite) async -> Bool? {
        guard case .assignLicense(let user, let body) = write else { return false }
        struct UserLicenses: Decodable { let licenseAssignmentStates: [LicenseAssignmentState]? }
        let url = "\(graph.base)/users/\(user)?$select=id,licenseAssignmentStates"
        guard
            let response = try? await executor.send(
                .GET,
                url,
                host: graph.host,
                operation: "GET /users/{id}",
                authorizer: authorizer
            ),
            response.isSuccess,
            let read = try? JSONDecoder().decode(UserLicenses.self, from: Data(response.body.readableBytesView))
        else { return nil }
        let direct = (read.licenseAssignmentStates ?? []).filter(\.isDirect)
        let removed = body.removeLicenses.allSatisfy { sku in !direct.contains { $0.skuId == sku } }
        let added = body.addLicenses.allSatisfy { add in
            direct.contains { $0.skuId == add.skuId && Set($0.disabledPlans) == Set(add.disabledPlans) }
        }
        return removed && added
    }

    private func logThrottled(
        operation: String,
        user: GUID?,
        retryAfter: Duration?,
        scope: String?,
        requestId: String?,
        clientRequestId: String
    ) {
        var metadata: Logger.Metadata = [
            "graph.operation": "\(operation)",
            "graph.retry_after": "\(retryAfter.map { "\($0)" } ?? "none")",
            "graph.throttle_scope": "\(scope ?? "none")", "graph.request_id": "\(requestId ?? "none")",
            "graph.client_request_id": "\(clientRequestId)",
        ]
        if let user { metadata["user.id"] = "\(user)" }
        logger.event(.graphThrottled, level: .notice, "Graph throttled a write", metadata)
    }
}

/// Writes that go one after the other: one user's usage-location PATCH (first) and license
/// call. Only the first pending write of a unit travels in a batch; the next one waits for its answer.
struct WriteUnit: Sendable {
    struct Item: Sendable {
        /// The write's index in the caller's array.
        let index: Int
        var schedule: RetrySchedule
    }

    /// The writes still to send, the next one first.
    var items: [Item]
    /// Not to be sent before this time (a retry's `Retry-After` or backoff).
    var notBefore: Duration = .zero
    /// The delay to apply when the unit is queued again.
    var delay: Duration = .zero
    /// The unit's usage-location PATCH was applied in this run.
    var usageLocationSet = false
    /// The license call was already retried once, waiting for that PATCH to replicate.
    var retriedForReplication = false

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

    /// The ready units whose next writes fill one batch (at most 20), by position in `queue`.
    static func nextBatch(from queue: [WriteUnit], now: Duration) -> [Int]? {
        var indices: [Int] = []
        for (index, unit) in queue.enumerated() where unit.notBefore <= now {
            indices.append(index)
            if indices.count == BatchRequest.maxRequests { break }
        }
        return indices.isEmpty ? nil : indices
    }

    /// Removes and returns the first `limit` candidate units.
    static func take(from queue: inout [WriteUnit], candidates: [Int], limit: Int) -> [WriteUnit] {
        let chosen = Array(candidates.prefix(max(0, limit)))
        let batch = chosen.map { queue[$0] }
        for index in chosen.sorted().reversed() { queue.remove(at: index) }
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
    /// Graph answered 403: the application lacks a permission, so nothing more is sent.
    var permissionDenied = false
}

/// The JSON batch request body.
struct BatchRequest: Encodable {
    /// Graph's limit of requests per batch.
    static let maxRequests = 20

    /// One request. There is no `dependsOn`: every batch Allot sends is fully parallel.
    struct Item: Encodable {
        let id: String
        let method: String
        let url: String
        let headers: [String: String]
        let body: Body

        init(id: String, write: GraphWrite) {
            self.id = id
            method = write.method
            url = write.relativeURL
            headers = ["Content-Type": "application/json"]
            switch write {
            case .assignLicense(_, let body): self.body = .assignLicense(body)
            case .setUsageLocation(_, let code): self.body = .usageLocation(code)
            }
        }
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

    /// The per-request answers of a batch response, when it has them (whatever its status).
    static func decode(_ body: ByteBuffer) -> BatchResponse? {
        try? JSONDecoder().decode(BatchResponse.self, from: Data(body.readableBytesView))
    }
}
