import AllotCore
import Crypto
import _CryptoExtras
import Foundation
import SwiftASN1
import X509

/// A compact JWS (`header.payload.signature`) as a client assertion arrives: decoded, not yet trusted.
struct JSONWebToken: Sendable {
    let header: [String: JSONValue]
    let claims: [String: JSONValue]
    /// `header.payload`, the bytes the signature covers.
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// - Returns: `nil` when the text is not a well-formed JWS with JSON header and claims.
    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            case let .object(header)? = try? JSONParser.parse(headerBytes),
            case let .object(claims)? = try? JSONParser.parse(claimBytes)
        else { return nil }
        self.header = header
        self.claims = claims
        signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
    }

    var algorithm: String? { header["alg"]?.stringValue }

    func string(_ claim: String) -> String? { claims[claim]?.stringValue }

    /// A numeric date claim (`exp`, `nbf`, `iat`) in seconds since 1970.
    func date(_ claim: String) -> Double? {
        if case let .number(value)? = claims[claim] { return value }
        return nil
    }

    /// `aud` as a list (it may be a string or an array).
    var audiences: [String] {
        switch claims["aud"] {
        case let .string(audience)?: [audience]
        case let .array(items)?: items.compactMap(\.stringValue)
        default: []
        }
    }

    /// Whether the signature verifies with this key under the header's algorithm (RS256, PS256 or ES256).
    func isSigned(by key: Certificate.PublicKey) -> Bool {
        switch algorithm {
        case "RS256", "PS256":
            guard let rsa = _RSA.Signing.PublicKey(key) else { return false }
            let padding: _RSA.Signing.Padding = algorithm == "PS256" ? .PSS : .insecurePKCS1v1_5
            return rsa.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature),
                for: signingInput,
                padding: padding
            )
        case "ES256":
            guard let ec = P256.Signing.PublicKey(key),
                let ecSignature = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return ec.isValidSignature(ecSignature, for: signingInput)
        default:
            return false
        }
    }
}

/// A certificate registered on an application, with the thumbprints a client assertion names it by.
struct RegisteredCertificate: Sendable {
    let certificate: Certificate
    /// Base64url SHA-256 of the DER encoding (`x5t#S256`).
    let sha256Thumbprint: String
    /// Base64url SHA-1 of the DER encoding (`x5t`).
    let sha1Thumbprint: String
    /// Upper-case hex SHA-1, as Entra prints thumbprints in errors.
    let hexThumbprint: String

    init(pem: String) throws {
        certificate = try Certificate(pemEncoded: pem)
        let der = try PEMDocument(pemString: pem).derBytes
        sha256Thumbprint = Base64URL.encode(SHA256.hash(data: der))
        let sha1 = Insecure.SHA1.hash(data: der)
        sha1Thumbprint = Base64URL.encode(sha1)
        hexThumbprint = sha1.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
    }

    func matches(_ token: JSONWebToken) -> Bool {
        token.header["x5t#S256"]?.stringValue == sha256Thumbprint || token.header["x5t"]?.stringValue == sha1Thumbprint
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A key that verifies external tokens for a federated credential: a certificate or a bare public key.
enum FederatedSigningKey {
    static func publicKey(pem: String) throws -> Certificate.PublicKey {
        if pem.contains("BEGIN CERTIFICATE") {
            return try Certificate(pemEncoded: pem).publicKey
        }
        return try Certificate.PublicKey(pemEncoded: pem)
    }
}
