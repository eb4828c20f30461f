/// Supplies the bearer tokens the client sends to Graph.
///
/// The client asks before every request. An implementation caches its token and refreshes it
/// before expiry; when Graph answers 401 the client asks once more, passing the token that was
/// refused, and the provider must not hand that one out again.
public protocol TokenProvider: Sendable {
    /// A token valid now. `rejected` is a token Graph just refused (401), if any.
    func token(rejecting rejected: String?) async throws -> String
}

/// An access token as a token endpoint issued it.
struct IssuedToken: Sendable {
    let accessToken: String
    /// `expires_in`: how long it is valid from issue.
    let lifetime: Duration
}

/// Fetches a new token from Entra or IMDS (no caching).
protocol TokenSource: Sendable {
    /// What the source is, for logs and errors (`client secret from /run/...`), never a secret.
    var summary: String { get }
    func fetchToken() async throws -> IssuedToken
}

/// Caches one token and refreshes it before it expires: 5 minutes before expiry, or at 80 %
/// of its lifetime when that comes first (a short-lived token). Concurrent callers share one
/// fetch.
actor CachingTokenProvider: TokenProvider {
    private let source: any TokenSource
    /// The monotonic time, unless a test moves it on.
    private let now: @Sendable () -> ContinuousClock.Instant
    private var current: (token: String, refreshAt: ContinuousClock.Instant)?
    private var pending: Task<IssuedToken, any Error>?

    init(source: any TokenSource, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.source = source
        self.now = now
    }

    func token(rejecting rejected: String?) async throws -> String {
        if let current {
            if current.token == rejected {
                self.current = nil
            } else if now() < current.refreshAt {
                return current.token
            }
        }
        if let pending { return try await Self.value(of: pending).accessToken }
        let started = now()
        let source = self.source
        let task = Task { try await source.fetchToken() }
        pending = task
        do {
            let issued = try await Self.value(of: task)
            pending = nil
            current = (issued.accessToken, started + Self.refreshDelay(lifetime: issued.lifetime))
            return issued.accessToken
        } catch {
            pending = nil
            throw error
        }
    }

    /// The fetch's result; cancelling the waiting task cancels the fetch (an unstructured task
    /// would otherwise go on retrying an unreachable token endpoint after SIGTERM). The callers
    /// waiting on one fetch are the reads of one cycle, cancelled together.
    private static func value(of fetch: Task<IssuedToken, any Error>) async throws -> IssuedToken {
        try await withTaskCancellationHandler {
            try await fetch.value
        } onCancel: {
            fetch.cancel()
        }
    }

    /// How long after issue a token of this lifetime is replaced.
    static func refreshDelay(lifetime: Duration) -> Duration {
        let margin = min(.seconds(300), lifetime * 0.2)
        return max(.zero, lifetime - margin)
    }
}
