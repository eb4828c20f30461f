import NIOHTTP1

/// Azure managed identity through the Instance Metadata Service:
/// `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...` with `Metadata: true`,
/// and `client_id` for a user-assigned identity.
struct ManagedIdentitySource: TokenSource {
    /// IMDS's fixed link-local address.
    static let imdsHost = "169.254.169.254"

    let endpoint: Endpoint
    let clientId: String?
    let resource: String
    let executor: RequestExecutor

    var summary: String {
        clientId.map { "managed identity \($0)" } ?? "system-assigned managed identity"
    }

    func fetchToken() async throws -> IssuedToken {
        var query = [("api-version", "2018-02-01"), ("resource", resource)]
        if let clientId, !clientId.isEmpty { query.append(("client_id", clientId)) }
        let url = "\(endpoint.base)/metadata/identity/oauth2/token?\(FormEncoding.encode(query))"
        // IMDS answers 404 while it starts and 410 for up to 70 s after an update; Azure says to
        // retry both with backoff, as well as the 429 and 5xx the executor already retries.
        var schedule = RetrySchedule(policy: executor.retry)
        while true {
            let response = try await executor.send(
                .GET,
                url,
                host: endpoint.host,
                operation: GraphMetrics.tokenOperation(summary),
                headers: [("Metadata", "true")]
            )
            guard response.status == 404 || response.status == 410,
                case .retry(let delay) = schedule.record(.transport, random: Double.random(in: 0..<1))
            else {
                return try TokenResponse.decode(response, source: summary, clientId: clientId)
            }
            try await Task.sleep(for: delay)
        }
    }
}
