import AllotCore
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SwiftASN1
import X509
import _CryptoExtras

/// The OAuth 2.0 client-credentials grant against `{authority}/{tenant}/oauth2/v2.0/token`,
/// with a client secret, a certificate-signed client assertion, or a federated assertion.
struct ClientCredentialsSource: TokenSource {
    /// How the application proves who it is.
    enum Proof: Sendable {
        /// A client secret, read from this file on every token request.
        case secretFile(String)
        /// A client assertion signed with the certificate's key.
        case certificate(ClientAssertionSigner, certificateFile: String)
        /// An external token (workload identity federation), read from this file on every request.
        case federatedTokenFile(String)
    }

    let clientId: String
    let tenant: String
    let scope: String
    let tokenURL: String
    let authorityHost: String
    let proof: Proof
    let executor: RequestExecutor

    init(configuration: GraphClient.Configuration, authority: Endpoint, executor: RequestExecutor) throws {
        guard !configuration.clientId.isEmpty else {
            throw AuthenticationError(
                "auth.clientId is empty; set it to the application (client) id of the app registration"
            )
        }
        clientId = configuration.clientId
        tenant = configuration.tenant
        scope = configuration.scope
        tokenURL = "\(authority.base)/\(FormEncoding.escape(configuration.tenant))/oauth2/v2.0/token"
        authorityHost = authority.host
        self.executor = executor
        switch configuration.credential {
        case .clientSecretFile(let file):
            if let file {
                proof = .secretFile(file)
            } else if let directory = configuration.credentialsDirectory, !directory.isEmpty {
                proof = .secretFile((directory as NSString).appendingPathComponent("client-secret"))
            } else {
                throw AuthenticationError(
                    "no client secret file: set auth.clientSecretFile, or run under systemd with "
                        + "LoadCredential=client-secret:... so that $CREDENTIALS_DIRECTORY/client-secret exists (CREDENTIALS_DIRECTORY is not set)"
                )
            }
        case .certificate(let certificateFile, let privateKeyFile):
            let audience = "\(authority.base)/\(configuration.tenant)/oauth2/v2.0/token"
            proof = .certificate(
                try ClientAssertionSigner(
                    certificateFile: certificateFile,
                    privateKeyFile: privateKeyFile,
                    clientId: configuration.clientId,
                    audience: audience
                ),
                certificateFile: certificateFile
            )
        case .federatedTokenFile(let file):
            proof = .federatedTokenFile(file)
        case .managedIdentity:
            preconditionFailure("managed identity uses ManagedIdentitySource")
        }
    }

    var summary: String {
        switch proof {
        case .secretFile(let file): "client secret from \(file)"
        case .certificate(_, let file): "certificate \(file)"
        case .federatedTokenFile(let file): "federated token from \(file)"
        }
    }

    func fetchToken() async throws -> IssuedToken {
        var fields = [("client_id", clientId), ("scope", scope), ("grant_type", "client_credentials")]
        switch proof {
        case .secretFile(let file):
            fields.append(
                (
                    "client_secret",
                    try CredentialFile.read(file, what: "client secret", setting: "auth.clientSecretFile")
                )
            )
        case .certificate(let signer, _):
            fields.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            fields.append(("client_assertion", try signer.assertion(now: Date())))
        case .federatedTokenFile(let file):
            fields.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            fields.append(
                (
                    "client_assertion",
                    try CredentialFile.read(file, what: "federated token", setting: "auth.federatedTokenFile")
                )
            )
        }
        let response = try await executor.send(
            .POST,
            tokenURL,
            host: authorityHost,
            operation: GraphMetrics.tokenOperation(summary),
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(FormEncoding.encode(fields).utf8)
        )
        return try TokenResponse.decode(response, source: summary, clientId: clientId)
    }
}

/// Reads a credential file: trailing newline and spaces trimmed; errors name the file, never its content.
enum CredentialFile {
    static func read(_ path: String, what: String, setting: String) throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AuthenticationError(
                "the \(what) file '\(path)' could not be read (\(Self.reason(path: path))); check \(setting) and the file's permissions"
            )
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            throw AuthenticationError("the \(what) file '\(path)' is empty; put the \(what) in it (\(setting))")
        }
        return text
    }

    private static func reason(path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "no such file" }
        return isDirectory.boolValue ? "it is a directory" : "not readable"
    }
}

/// A token endpoint's answer: the token, or Entra's error.
enum TokenResponse {
    private struct Success: Decodable {
        let access_token: String
        let expires_in: FlexibleSeconds?
    }

    private struct Failure: Decodable {
        let error: String?
        let error_description: String?
    }

    /// `expires_in` is a number from Entra and a string from IMDS.
    private struct FlexibleSeconds: Decodable {
        let seconds: Double

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                seconds = number
            } else {
                let text = try container.decode(String.self)
                guard let number = Double(text) else {
                    throw DecodingError.dataCorruptedError(
                        in: container,
                        debugDescription: "expires_in is not a number"
                    )
                }
                seconds = number
            }
        }
    }

    static func decode(_ response: GraphResponse, source: String, clientId: String?) throws -> IssuedToken {
        let data = Data(response.body.readableBytesView)
        guard response.isSuccess else {
            let failure = try? JSONDecoder().decode(Failure.self, from: data)
            let who = clientId.map { " for client id \($0)" } ?? ""
            throw AuthenticationError(
                "the token request\(who) with the \(source) was refused (HTTP \(response.status))",
                entraError: failure?.error,
                entraErrorDescription: failure?.error_description,
                clientRequestId: response.clientRequestId
            )
        }
        guard let success = try? JSONDecoder().decode(Success.self, from: data), !success.access_token.isEmpty else {
            throw AuthenticationError(
                "the token endpoint answered the \(source) without an access_token",
                clientRequestId: response.clientRequestId
            )
        }
        let seconds = success.expires_in?.seconds ?? 3599
        return IssuedToken(accessToken: success.access_token, lifetime: .milliseconds(Int64(max(0, seconds) * 1000)))
    }
}
