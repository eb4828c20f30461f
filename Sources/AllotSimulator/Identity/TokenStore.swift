import AllotCore
import Crypto

/// Who a bearer token stands for: the application (or managed identity) it was issued to and
/// the app roles (application permissions) it carries.
struct Caller: Sendable, Hashable {
    let applicationId: String
    let roles: Set<String>
}

/// The access tokens the simulator has issued, each remembered with its caller and expiry.
///
/// A token is shaped like Entra's app-only tokens for Graph (a JWT whose `roles` claim lists the
/// app roles), but its signature is random: a client cannot check a Graph token's signature
/// either, and the simulator looks tokens up rather than verifying them.
struct TokenStore: Sendable {
    struct Issued: Sendable {
        let caller: Caller
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
    mutating func issue(_ caller: Caller, tenantId: String, lifetimeSeconds: Double, now: Double) -> String {
        if issued.count > 50_000 { issued = issued.filter { $0.value.expiresAt > now } }
        let token = Self.accessToken(
            caller,
            tenantId: tenantId,
            issuedAt: Int(now),
            expiresAt: Int(now + lifetimeSeconds)
        )
        issued[token] = Issued(caller: caller, expiresAt: now + lifetimeSeconds)
        return token
    }

    /// The caller a bearer token stands for.
    func validate(_ token: String?, now: Double) throws(Rejection) -> Caller {
        guard let token, !token.isEmpty else { throw .missing }
        if revoked.contains(token) { throw .revoked }
        guard let entry = issued[token] else { throw .unknown }
        guard entry.expiresAt > now else { throw .expired }
        return entry.caller
    }

    /// Every token issued so far stops working.
    mutating func revokeAll() {
        revoked.formUnion(issued.keys)
        issued.removeAll()
    }

    /// A v1.0 app-only token for Graph as Entra issues it: `aud`, `iss`, `appid`, `idtyp: app`,
    /// `roles` (left out when there are none, as Entra leaves it out), `tid`, lifetimes.
    private static func accessToken(_ caller: Caller, tenantId: String, issuedAt: Int, expiresAt: Int) -> String {
        var random = SystemRandomNumberGenerator()
        func randomBytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        }

        var header = JSONWriter(capacity: 160)
        header.raw("{\"typ\":\"JWT\",\"nonce\":")
        header.string(Base64URL.encode(randomBytes(32)))
        header.raw(",\"alg\":\"RS256\",\"x5t\":\"allot-simulator\",\"kid\":\"allot-simulator\"}")

        let servicePrincipal = servicePrincipalId(of: caller.applicationId)
        var claims = JSONWriter(capacity: 600)
        claims.raw("{\"aud\":\"https://graph.microsoft.com\",\"iss\":")
        claims.string("https://sts.windows.net/\(tenantId)/")
        claims.raw(",\"iat\":")
        claims.integer(issuedAt)
        claims.raw(",\"nbf\":")
        claims.integer(issuedAt)
        claims.raw(",\"exp\":")
        claims.integer(expiresAt)
        claims.raw(",\"appid\":")
        claims.string(caller.applicationId)
        claims.raw(",\"appidacr\":\"1\",\"idp\":")
        claims.string("https://sts.windows.net/\(tenantId)/")
        claims.raw(",\"idtyp\":\"app\",\"oid\":")
        claims.string(servicePrincipal)
        if !caller.roles.isEmpty {
            claims.raw(",\"roles\":")
            claims.strings(caller.roles.sorted())
        }
        claims.raw(",\"sub\":")
        claims.string(servicePrincipal)
        claims.raw(",\"tid\":")
        claims.string(tenantId)
        claims.raw(",\"uti\":")
        claims.string(Base64URL.encode(randomBytes(16)))
        claims.raw(",\"ver\":\"1.0\"}")

        return [Base64URL.encode(header.bytes), Base64URL.encode(claims.bytes), Base64URL.encode(randomBytes(256))]
            .joined(separator: ".")
    }

    /// A stable object id for the application's service principal (the token's `oid` and `sub`).
    private static func servicePrincipalId(of applicationId: String) -> String {
        let digest = Array(SHA256.hash(data: Array("service-principal:\(applicationId.lowercased())".utf8)))
        let word = { (bytes: ArraySlice<UInt8>) in bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        return GUID(high: word(digest[0..<8]), low: word(digest[8..<16])).description
    }
}
