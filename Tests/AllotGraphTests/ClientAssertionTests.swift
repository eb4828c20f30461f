import AllotCore
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import AllotGraph

@Suite("Client assertion")
struct ClientAssertionTests {
    @Test("the assertion is a PS256 JWT with x5t#S256 and the claims Entra requires")
    func assertion() throws {
        let directory = try TestDirectory()
        let certificate = try TestCertificate.first()
        let signer = try ClientAssertionSigner(
            certificateFile: try directory.write("cert.pem", certificate.certificatePEM),
            privateKeyFile: try directory.write("key.pem", certificate.privateKeyPEM),
            clientId: "11111111-2222-3333-4444-555555555555",
            audience: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        let jwt = try signer.assertion(now: now)
        let parts = jwt.split(separator: ".")
        #expect(parts.count == 3)
        let header =
            try JSONSerialization.jsonObject(with: Data(try #require(Base64URL.decode(parts[0])))) as! [String: Any]
        #expect(header["alg"] as? String == "PS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["x5t#S256"] as? String == Base64URL.encode(SHA256.hash(data: certificate.derBytes)))
        let claims =
            try JSONSerialization.jsonObject(with: Data(try #require(Base64URL.decode(parts[1])))) as! [String: Any]
        #expect(
            claims["aud"] as? String == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        #expect(claims["iss"] as? String == "11111111-2222-3333-4444-555555555555")
        #expect(claims["sub"] as? String == "11111111-2222-3333-4444-555555555555")
        #expect(claims["nbf"] as? Int == 1_750_000_000)
        #expect(claims["iat"] as? Int == 1_750_000_000)
        #expect(claims["exp"] as? Int == 1_750_000_600)
        #expect(UUID(uuidString: claims["jti"] as? String ?? "") != nil)
        let signature = _RSA.Signing.RSASignature(rawRepresentation: try #require(Base64URL.decode(parts[2])))
        #expect(
            certificate.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .PSS)
        )
        #expect(try signer.assertion(now: now) != jwt, "every assertion has its own jti")
    }

    @Test("unreadable or wrong credential files are named in the error")
    func badFiles() throws {
        let directory = try TestDirectory()
        let certificate = try TestCertificate.first()
        let certificateFile = try directory.write("cert.pem", certificate.certificatePEM)
        let notAKey = try directory.write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        #expect {
            _ = try ClientAssertionSigner(
                certificateFile: certificateFile,
                privateKeyFile: notAKey,
                clientId: "c",
                audience: "a"
            )
        } throws: { "\($0)".contains(notAKey) }
        #expect {
            _ = try ClientAssertionSigner(
                certificateFile: directory.path + "/missing.pem",
                privateKeyFile: notAKey,
                clientId: "c",
                audience: "a"
            )
        } throws: { "\($0)".contains("missing.pem") && "\($0)".contains("no such file") }
        #expect {
            _ = try ClientAssertionSigner(
                certificateFile: notAKey,
                privateKeyFile: notAKey,
                clientId: "c",
                audience: "a"
            )
        } throws: { "\($0)".contains("does not hold a PEM X.509 certificate") }
    }
}
