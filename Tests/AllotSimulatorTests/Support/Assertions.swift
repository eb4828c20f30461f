import AllotCore
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

@testable import AllotSimulator

/// Keys, certificates and signed JWTs for the client-assertion tests.
struct TestKey: @unchecked Sendable {
    enum Kind { case rsa, p256 }

    let kind: Kind
    let rsa: _RSA.Signing.PrivateKey?
    let ec: P256.Signing.PrivateKey?
    let certificatePEM: String
    let certificateDER: [UInt8]

    /// A key with a self-signed certificate (RSA 2048 or P-256).
    init(_ kind: Kind, name: String = "allot-test") throws {
        self.kind = kind
        let privateKey: Certificate.PrivateKey
        switch kind {
        case .rsa:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            rsa = key
            ec = nil
            privateKey = Certificate.PrivateKey(key)
        case .p256:
            let key = P256.Signing.PrivateKey()
            ec = key
            rsa = nil
            privateKey = Certificate.PrivateKey(key)
        }
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(86_400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: kind == .rsa ? .sha256WithRSAEncryption : .ecdsaWithSHA256,
            extensions: Certificate.Extensions(),
            issuerPrivateKey: privateKey
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        certificateDER = serializer.serializedBytes
        certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// The public key alone, as PEM.
    var publicKeyPEM: String {
        get throws {
            switch kind {
            case .rsa: rsa!.publicKey.pemRepresentation
            case .p256: ec!.publicKey.pemRepresentation
            }
        }
    }

    var sha256Thumbprint: String { Base64URL.encode(SHA256.hash(data: certificateDER)) }
    var sha1Thumbprint: String { Base64URL.encode(Insecure.SHA1.hash(data: certificateDER)) }

    /// A compact JWS over the header and claims, signed with `algorithm` (RS256, PS256, ES256).
    func sign(header: [String: Any], claims: [String: Any], algorithm: String) throws -> String {
        var header = header
        header["alg"] = algorithm
        header["typ"] = "JWT"
        let encodedHeader = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let encodedClaims = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let input = Array("\(encodedHeader).\(encodedClaims)".utf8)
        let signature: [UInt8]
        switch algorithm {
        case "RS256": signature = Array(try rsa!.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation)
        case "PS256": signature = Array(try rsa!.signature(for: input, padding: .PSS).rawRepresentation)
        default: signature = Array(try ec!.signature(for: input).rawRepresentation)
        }
        return "\(encodedHeader).\(encodedClaims).\(Base64URL.encode(signature))"
    }

    /// A certificate client assertion as MSAL builds one.
    func clientAssertion(
        clientId: String,
        audience: String,
        algorithm: String = "PS256",
        expiresIn: Double = 600,
        sha256: Bool = true
    ) throws -> String {
        let now = Date().timeIntervalSince1970
        return try sign(
            header: sha256 ? ["x5t#S256": sha256Thumbprint] : ["x5t": sha1Thumbprint],
            claims: [
                "aud": audience, "iss": clientId, "sub": clientId, "jti": UUID().uuidString, "nbf": Int(now) - 5,
                "iat": Int(now) - 5,
                "exp": Int(now + expiresIn),
            ],
            algorithm: algorithm
        )
    }
}
