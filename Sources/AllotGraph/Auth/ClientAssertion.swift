import AllotCore
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// Signs client assertions for the certificate credential: a JWT with `alg` PS256 and
/// `x5t#S256` (the base64url SHA-256 of the certificate's DER), claims `aud`, `iss`, `sub`,
/// `jti`, `nbf`, `iat` and `exp` (10 minutes).
struct ClientAssertionSigner: Sendable {
    let thumbprint: String
    let clientId: String
    let audience: String
    private let key: _RSA.Signing.PrivateKey
    /// How long an assertion is valid.
    static let lifetime: TimeInterval = 600

    init(certificateFile: String, privateKeyFile: String, clientId: String, audience: String) throws {
        let certificatePEM = try CredentialFile.read(
            certificateFile,
            what: "certificate",
            setting: "auth.certificate.certificateFile"
        )
        let der: [UInt8]
        do {
            let documents = try PEMDocument.parseMultiple(pemString: certificatePEM)
            guard let document = documents.first(where: { $0.discriminator == "CERTIFICATE" }) else {
                throw AuthenticationError("no CERTIFICATE block")
            }
            _ = try Certificate(derEncoded: document.derBytes)
            der = document.derBytes
        } catch {
            throw AuthenticationError(
                "the certificate file '\(certificateFile)' does not hold a PEM X.509 certificate (-----BEGIN CERTIFICATE-----); "
                    + "check auth.certificate.certificateFile"
            )
        }
        let keyPEM = try CredentialFile.read(
            privateKeyFile,
            what: "private key",
            setting: "auth.certificate.privateKeyFile"
        )
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw AuthenticationError(
                "the private key file '\(privateKeyFile)' does not hold an unencrypted PEM RSA private key "
                    + "(PKCS#1 or PKCS#8); check auth.certificate.privateKeyFile"
            )
        }
        thumbprint = Base64URL.encode(SHA256.hash(data: der))
        self.clientId = clientId
        self.audience = audience
    }

    /// A new signed assertion, valid from `now` for ``lifetime``.
    func assertion(now: Date) throws -> String {
        let issuedAt = Int(now.timeIntervalSince1970)
        let header = Header(alg: "PS256", typ: "JWT", x5tS256: thumbprint)
        let claims = Claims(
            aud: audience,
            iss: clientId,
            sub: clientId,
            jti: UUID().uuidString.lowercased(),
            nbf: issuedAt,
            iat: issuedAt,
            exp: issuedAt + Int(Self.lifetime)
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let signingInput =
            Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(claims))
        let signature = try key.signature(for: Data(signingInput.utf8), padding: .PSS)
        return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
    }

    private struct Header: Encodable {
        let alg: String
        let typ: String
        let x5tS256: String

        enum CodingKeys: String, CodingKey {
            case alg, typ
            case x5tS256 = "x5t#S256"
        }
    }

    private struct Claims: Encodable {
        let aud: String
        let iss: String
        let sub: String
        let jti: String
        let nbf: Int
        let iat: Int
        let exp: Int
    }
}
