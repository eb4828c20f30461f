/// The access tokens the simulator has issued: opaque random strings, each remembered with the
/// application it stands for and when it expires.
struct TokenStore: Sendable {
    struct Issued: Sendable {
        let applicationId: String
        /// Seconds since 1970.
        let expiresAt: Double
    }

    /// Why Graph refuses a bearer token.
    enum Rejection: Error, Equatable {
        case missing, unknown, expired, revoked

        /// Graph's `InvalidAuthenticationToken` message.
        var message: String {
            switch self {
            case .missing: "Access token is empty."
            case .unknown: "Access token validation failure. Invalid audience."
            case .expired: "Lifetime validation failed, the token is expired."
            case .revoked: "Access token has been revoked. Acquire a new token."
            }
        }
    }

    private var issued: [String: Issued] = [:]
    private var revoked: Set<String> = []

    /// Issues a new token.
    mutating func issue(applicationId: String, lifetimeSeconds: Double, now: Double) -> String {
        if issued.count > 50_000 { issued = issued.filter { $0.value.expiresAt > now } }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<48).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let token = Base64URL.encode(bytes)
        issued[token] = Issued(applicationId: applicationId, expiresAt: now + lifetimeSeconds)
        return token
    }

    /// The application a bearer token stands for.
    func validate(_ token: String?, now: Double) throws(Rejection) -> String {
        guard let token, !token.isEmpty else { throw .missing }
        if revoked.contains(token) { throw .revoked }
        guard let entry = issued[token] else { throw .unknown }
        guard entry.expiresAt > now else { throw .expired }
        return entry.applicationId
    }

    /// Every token issued so far stops working.
    mutating func revokeAll() {
        revoked.formUnion(issued.keys)
        issued.removeAll()
    }
}
