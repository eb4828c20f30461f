import AllotObservability
import Metrics

/// The Graph client's metrics (declared in ``AllotMetric``), through swift-metrics (a no-op unless the process bootstraps a
/// backend, as `allot run` does): `allot_graph_requests_total{operation,status}` and
/// `allot_graph_throttled_total{operation}` (`docs/metrics.md`).
///
/// `operation` is a fixed route template (`GET /users`, `POST /$batch`,
/// `POST /users/{id}/assignLicense`, `token`), never a URL, a user or a group, so the label
/// sets stay small.
enum GraphMetrics {
    /// The `status` label of a request that got no HTTP response (timeout, refused, dropped).
    static let noResponse = "none"

    /// One HTTP request (every attempt, retries included), or one item of a `$batch`.
    static func request(operation: String, status: Int?) {
        AllotMetric.graphRequestsTotal.counter(label(operation), status.map(String.init) ?? noResponse).increment()
    }

    /// One 429 answer (a whole request or a `$batch` item).
    static func throttled(operation: String) {
        AllotMetric.graphThrottledTotal.counter(label(operation)).increment()
    }

    /// The operation of a token request, naming its credential (for logs and errors). Every
    /// token source names its requests through this, so that ``label(_:)`` counts them all as
    /// `token`: a credential's name and file must not become a label.
    static func tokenOperation(_ credential: String) -> String { "\(tokenOperationPrefix) (\(credential))" }

    private static let tokenOperationPrefix = "token request"

    /// The operation as a label.
    static func label(_ operation: String) -> String {
        operation.hasPrefix(tokenOperationPrefix) ? "token" : operation
    }
}
