import Crypto
import Foundation
import SwiftASN1
import X509

/// A fresh self-signed TLS certificate for loopback (`127.0.0.1`, `::1`, `localhost`), shaped
/// like `openssl req -x509` makes one (a CA certificate that is its own trust anchor), so that
/// OpenSSL, BoringSSL and Python's `ssl` all accept it as a trusted root.
struct SelfSignedCertificate: Sendable {
    let certificatePEM: String
    let privateKeyPEM: String

    init(validFor days: Int = 30, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            CommonName("Allot Graph simulator")
            OrganizationName("Allot")
        }
        let keyIdentifier = SubjectKeyIdentifier(hash: publicKey)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                keyIdentifier
                AuthorityKeyIdentifier(keyIdentifier: keyIdentifier.keyIdentifier)
                SubjectAlternativeNames([
                    .dnsName("localhost"),
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        certificatePEM = try certificate.serializeAsPEM().pemString
        privateKeyPEM = key.pemRepresentation
    }
}
