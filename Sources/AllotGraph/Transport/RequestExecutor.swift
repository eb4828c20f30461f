import AllotCore
import AllotObservability
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A response as the client uses it: status, headers, the whole body, and the
/// `client-request-id` that was sent.
struct GraphResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: ByteBuffer
    let clientRequestId: String

    var isSuccess: Bool { (200..<300).contains(status) }

    /// `Retry-After` in seconds, when present and numeric.
    var retryAfter: Duration? { headers.first(name: "retry-after").flatMap(Duration.init(retryAfter:)) }

    /// `x-ms-throttle-limit-percentage`, when present.
    var throttleLimitPercentage: Double? { headers.first(name: "x-ms-throttle-limit-percentage").flatMap(Double.init) }

    /// Graph's error envelope (`{"error":{"code","message"}}`) as a ``GraphRequestError``.
    func error(operation: String) -> GraphRequestError {
        let envelope = try? JSONDecoder().decode(GraphErrorEnvelope.self, from: Data(body.readableBytesView))
        let message =
            envelope?.error.message
            ?? (body.readableBytes > 0 ? String(buffer: body).prefix(300).description : "empty response body")
        return GraphRequestError(
            operation: operation,
            status: status,
            code: envelope?.error.code,
            message: message,
            clientRequestId: clientRequestId
        )
    }
}

/// Graph's error envelope.
struct GraphErrorEnvelope: Decodable, Sendable {
    struct Body: Decodable, Sendable {
        let code: String?
        let message: String?
    }

    let error: Body
}

/// Sends one logical request: a fresh `client-request-id` and the `User-Agent` on every
/// attempt, the bearer token (refreshed once on a 401), and retries as ``RetryPolicy`` says.
struct RequestExecutor: Sendable {
    /// Supplies a bearer token; `rejected` is a token Graph just answered 401 to.
    typealias Authorizer = @Sendable (_ rejected: String?) async throws -> String

    let transport: Transport
    let userAgent: String
    let retry: RetryPolicy
    let timeout: GraphClient.Timeout
    let maxResponseBytes: Int
    let logger: Logger

    /// Sends the request and returns the final response: a success, a status that is not
    /// retried, the last response once the retries are used up, or any response `isFinal`
    /// accepts (the caller handles those itself, e.g. a `$batch` answer carrying per-request
    /// responses, which resending would repeat).
    /// - Throws: ``GraphRequestError`` when no response arrived after the retries (or TLS
    ///   verification failed); `CancellationError` when the task was cancelled.
    func send(
        _ method: HTTPMethod,
        _ url: String,
        host: String,
        operation: String,
        headers extraHeaders: [(String, String)] = [],
        body: [UInt8]? = nil,
        authorizer: Authorizer? = nil,
        isFinal: (GraphResponse) -> Bool = { _ in false }
    ) async throws -> GraphResponse {
        var schedule = RetrySchedule(policy: retry)
        var rejectedToken: String?
        var refreshedAfterUnauthorized = false
        let client = transport.client(for: host)
        var attempts = 0
        /// When the first attempt that could not reach the endpoint (refused, connect timed out)
        /// started: graph.timeout runs from there, until a response arrives.
        var unreachableSince: ContinuousClock.Instant?
        // What failed, for an error that puts the cause first (not the read that needed it).
        let target =
            GraphMetrics.label(operation) == "token" ? "token request to \(url)" : "\(operation) request to \(url)"
        while true {
            try Task.checkCancellation()
            attempts += 1
            let requestId = UUID().uuidString.lowercased()
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "User-Agent", value: userAgent)
            request.headers.add(name: "client-request-id", value: requestId)
            request.headers.add(name: "return-client-request-id", value: "true")
            request.headers.add(name: "Accept", value: "application/json")
            for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
            var token: String?
            if let authorizer {
                let current = try await authorizer(rejectedToken)
                token = current
                request.headers.add(name: "Authorization", value: "Bearer \(current)")
            }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }

            let started = ContinuousClock.now
            let response: GraphResponse
            do {
                // A retry of an endpoint that could not be reached ends by graph.timeout.
                let left = unreachableSince.map { timeout.unreachable - (started - $0) } ?? timeout.request
                let limit = min(timeout.request, max(.seconds(1), left))
                let answer = try await client.execute(request, timeout: .nanoseconds(limit.nanosecondsClamped))
                let collected = try await answer.body.collect(upTo: maxResponseBytes)
                response = GraphResponse(
                    status: Int(answer.status.code),
                    headers: answer.headers,
                    body: collected,
                    clientRequestId: requestId
                )
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                GraphMetrics.request(operation: operation, status: nil)
                if let tlsError = Self.tlsFailure(error) {
                    throw GraphRequestError(
                        operation: operation,
                        status: nil,
                        code: nil,
                        message:
                            "\(target) failed: TLS verification of \(host) failed (\(tlsError)); if a proxy or a private CA signs its "
                            + "certificate, add that CA to graph.caFile",
                        clientRequestId: requestId
                    )
                }
                logger.event(
                    .graphRequest,
                    level: .debug,
                    "graph request failed without a response",
                    [
                        "graph.operation": "\(operation)", "graph.client_request_id": "\(requestId)",
                        "error": "\(error)",
                    ]
                )
                let cause = Self.describeTransportFailure(error)
                if unreachableSince == nil, Self.isConnectFailure(error) { unreachableSince = started }
                // A dropped connection reached the endpoint: only the retry count bounds those.
                let elapsed = ContinuousClock.now - (unreachableSince ?? ContinuousClock.now)
                switch schedule.record(.transport, random: Double.random(in: 0..<1)) {
                case .retry(let delay) where elapsed + delay < timeout.unreachable:
                    logRetry(
                        operation: operation,
                        requestId: requestId,
                        cause: cause,
                        attempt: schedule.retries,
                        delay: delay
                    )
                    try await Task.sleep(for: delay)
                    continue
                case .retry, .fail:
                    throw GraphRequestError(
                        operation: operation,
                        status: nil,
                        code: nil,
                        message:
                            "\(target) failed: \(cause) (no response to \(attempts) \(attempts == 1 ? "attempt" : "attempts") in "
                            + "\(Int(elapsed.timeInterval.rounded())) s; graph.timeout is \(Int(timeout.unreachable.timeInterval.rounded())) s)",
                        clientRequestId: requestId
                    )
                }
            }
            unreachableSince = nil
            GraphMetrics.request(operation: operation, status: response.status)
            logger.event(
                .graphRequest,
                level: .debug,
                "graph request",
                [
                    "graph.operation": "\(operation)", "graph.status": "\(response.status)",
                    "graph.client_request_id": "\(requestId)",
                    "graph.duration_ms": "\((ContinuousClock.now - started).timeInterval * 1000)",
                ]
            )
            if response.status == 401, authorizer != nil, !refreshedAfterUnauthorized {
                refreshedAfterUnauthorized = true
                rejectedToken = token
                continue
            }
            guard RetryPolicy.isRetryable(status: response.status), !isFinal(response) else { return response }
            if response.status == 429 {
                GraphMetrics.throttled(operation: operation)
                logger.event(
                    .graphThrottled,
                    level: .notice,
                    "Graph throttled a request",
                    [
                        "graph.operation": "\(operation)", "graph.client_request_id": "\(requestId)",
                        "graph.retry_after": "\(response.headers.first(name: "retry-after") ?? "none")",
                    ]
                )
            }
            switch schedule.record(
                .status(response.status, retryAfter: response.retryAfter),
                random: Double.random(in: 0..<1)
            ) {
            case .retry(let delay):
                if response.status != 429 {
                    logRetry(
                        operation: operation,
                        requestId: requestId,
                        cause: "HTTP \(response.status)",
                        attempt: schedule.retries,
                        delay: delay
                    )
                }
                try await Task.sleep(for: delay)
            case .fail:
                return response
            }
        }
    }

    /// `graph.retry`: a request failed without a usable answer and is sent again after `delay`.
    private func logRetry(operation: String, requestId: String, cause: String, attempt: Int, delay: Duration) {
        logger.event(
            .graphRetry,
            level: .warning,
            "Graph request failed (\(cause)); retrying",
            [
                "graph.operation": "\(GraphMetrics.label(operation))", "graph.client_request_id": "\(requestId)",
                "error": "\(cause)", "attempt": .stringConvertible(attempt),
                "delay_ms": .stringConvertible(Int64(delay.timeInterval * 1000)),
            ]
        )
    }

    /// Whether a transport failure means the endpoint could not be reached at all (refused,
    /// connect timed out, no route, no such host), as opposed to a connection that broke.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if let client = error as? HTTPClientError, client == .connectTimeout { return true }
        let text = String(describing: error)
        return [
            "connection refused", "no route to host", "network is unreachable", "could not resolve",
            "name or service not known",
        ]
        .contains { text.localizedCaseInsensitiveContains($0) }
    }

    /// A transport failure in a few words: `connection refused`, `connect timed out`, ...
    static func describeTransportFailure(_ error: any Error) -> String {
        let text = String(describing: error)
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "connect timed out"
            case .deadlineExceeded: return "no complete answer within the request deadline"
            case .readTimeout: return "read timed out"
            case .remoteConnectionClosed: return "the connection was closed without an answer"
            default: break
            }
        }
        if text.localizedCaseInsensitiveContains("connection refused") { return "connection refused" }
        if text.localizedCaseInsensitiveContains("connection reset") { return "connection reset" }
        return text
    }

    /// The TLS failure inside an error, if it is one (retrying cannot fix those).
    static func tlsFailure(_ error: any Error) -> (any Error)? {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError { return error }
        return nil
    }
}

extension Duration {
    /// Parses a `Retry-After` value in seconds (Graph never sends the HTTP-date form).
    init?(retryAfter text: String) {
        guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds >= 0, seconds.isFinite else {
            return nil
        }
        self = .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// `application/x-www-form-urlencoded` and query-string encoding.
enum FormEncoding {
    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// Percent-encodes every byte outside RFC 3986's unreserved set.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                result.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(UnicodeScalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(UnicodeScalar(hex[Int(byte & 0xF)]))
            }
        }
        return result
    }

    /// `name=value&...`, each side escaped.
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }
}
