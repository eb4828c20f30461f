import AllotCore
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// Certificates, keys and files made for a test, in a temporary directory removed afterwards.
struct TestDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "allot-graph-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to a file in the directory and returns its path.
    func write(_ name: String, _ contents: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// A self-signed RSA certificate and its key, as PEM.
struct TestCertificate: Sendable {
    /// Two certificates made once for the whole test run, for tests that need one (`first`) or
    /// a second one, not registered (`second`): a 2048-bit RSA key takes a good tenth of a
    /// second to generate in a debug build, and nothing in a test depends on the key being new.
    static let made = (first: Result { try TestCertificate() }, second: Result { try TestCertificate() })
    static func first() throws -> TestCertificate { try made.first.get() }
    static func second() throws -> TestCertificate { try made.second.get() }

    let certificatePEM: String
    let privateKeyPEM: String
    let publicKey: _RSA.Signing.PublicKey
    let derBytes: [UInt8]

    init(commonName: String = "allot-test") throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: now - 3600,
            notValidAfter: now + 86400,
            issuer: name,
            subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions {},
            issuerPrivateKey: certificateKey
        )
        certificatePEM = try certificate.serializeAsPEM().pemString
        privateKeyPEM = key.pemRepresentation
        publicKey = key.publicKey
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        derBytes = serializer.serializedBytes
    }
}

/// Signs a JWT (RS256) as an external identity provider would for workload identity federation.
struct TestIssuer {
    let key: _RSA.Signing.PrivateKey
    let issuer: String

    init(issuer: String = "https://oidc.example.test") throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        self.issuer = issuer
    }

    var publicKeyPEM: String { key.publicKey.pemRepresentation }

    func token(
        subject: String,
        audience: String = "api://AzureADTokenExchange",
        lifetime: TimeInterval = 3600
    ) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header = #"{"alg":"RS256","typ":"JWT"}"#
        let claims =
            #"{"aud":"\#(audience)","exp":\#(now + Int(lifetime)),"iat":\#(now),"iss":"\#(issuer)","nbf":\#(now),"sub":"\#(subject)"}"#
        let input = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(Data(claims.utf8))
        let signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }
}
