import AllotCore
import Foundation

/// The app roles (application permissions) an app-only access token carries in its `roles`
/// claim, read from the JWT's payload.
///
/// Allot reads them only to refuse early what Graph would answer wrongly rather than refuse:
/// a hidden-membership group listed without its members when the app lacks
/// `Member.Read.Hidden`. It never trusts them for anything else and never checks the
/// signature (Graph does).
enum AccessTokenRoles {
    /// The roles of a JWT access token (empty when it has no `roles` claim, as Entra leaves it
    /// out when no role is granted), or `nil` when the token is not a JWT with a readable payload.
    static func roles(of token: String) -> Set<String>? {
        struct Claims: Decodable { let roles: [String]? }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]),
            let claims = try? JSONDecoder().decode(Claims.self, from: Data(payload))
        else { return nil }
        return Set(claims.roles ?? [])
    }
}
