import AllotCore
import AllotSimulator
import Foundation
import Logging
import Testing

@testable import AllotGraph

@Suite("Authentication against the simulator")
struct AuthenticationTests {
    @Test("client secret from a file: the secret never appears in any log line")
    func clientSecret() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            let (logger, handler) = Harness.capturingLogger()
            let model = try await Harness.withSecretClient(endpoints, logger: logger) {
                try await $0.readTenant(attributes: ["department"], groups: ["PMO"])
            }
            #expect(model.userCount == Harness.tenant.users.count)
            let text = Harness.text(of: handler)
            #expect(!text.isEmpty)
            #expect(!text.contains(Harness.secret))
            #expect(!text.contains(FormEncoding.escape(Harness.secret)))
            #expect(!text.contains("Bearer"))
        }
    }

    @Test("client secret from $CREDENTIALS_DIRECTORY/client-secret")
    func credentialsDirectory() async throws {
        try await Harness.withSimulator { _, endpoints in
            let directory = try TestDirectory()
            _ = try directory.write("client-secret", Harness.secret + "\n")
            let allot = AllotConfiguration(
                tenant: SampleTenant.tenantDomain,
                graph: AllotConfiguration.GraphEndpoints(
                    endpoint: endpoints.graphEndpoint,
                    authority: endpoints.authority
                ),
                auth: AllotConfiguration.Authentication(clientId: Harness.clientId, credential: .clientSecretFile(nil))
            )
            let configuration = try GraphClient.Configuration(
                allot,
                environment: ["CREDENTIALS_DIRECTORY": directory.path]
            )
            let model = try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t"))
            {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(model.userCount == Harness.tenant.users.count)
        }
    }

    @Test("a wrong secret surfaces Entra's error and AADSTS code, never the secret")
    func wrongSecret() async throws {
        try await Harness.withSimulator { _, endpoints in
            let directory = try TestDirectory()
            let wrong = "not-the-secret-\(UUID().uuidString)"
            let file = try directory.write("client-secret", wrong)
            let (logger, handler) = Harness.capturingLogger()
            let configuration = Harness.configuration(endpoints, credential: .clientSecretFile(file))
            await #expect {
                try await GraphClient.withGraphClient(configuration: configuration, logger: logger) {
                    try await $0.readTenant(attributes: [], groups: [])
                }
            } throws: { error in
                guard let error = error as? AuthenticationError else { return false }
                return error.entraError == "invalid_client" && (error.entraErrorDescription ?? "").hasPrefix("AADSTS")
                    && !"\(error)".contains(wrong) && "\(error)".contains(file)
            }
            #expect(!Harness.text(of: handler).contains(wrong))
        }
    }

    @Test("a missing or empty secret file is named, with what to do")
    func missingSecretFile() async throws {
        try await Harness.withSimulator { _, endpoints in
            let directory = try TestDirectory()
            let empty = try directory.write("empty", "\n")
            for (file, reason) in [(directory.path + "/absent", "no such file"), (empty, "is empty")] {
                let configuration = Harness.configuration(endpoints, credential: .clientSecretFile(file))
                await #expect {
                    try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t")) {
                        try await $0.readTenant(attributes: [], groups: [])
                    }
                } throws: { "\($0)".contains(file) && "\($0)".contains(reason) }
            }
            let noDirectory = Harness.configuration(endpoints, credential: .clientSecretFile(nil))
            #expect(throws: AuthenticationError.self) {
                _ = try GraphClient(configuration: noDirectory, logger: Logger(label: "t"))
            }
        }
    }

    @Test("certificate: a PS256 client assertion with x5t#S256")
    func certificate() async throws {
        let certificate = try TestCertificate.first()
        let clientId = "0c1d2e3f-0000-4000-8000-00000000c3a7"
        try await Harness.withSimulator(configure: {
            $0.applications.append(SimulatedApplication(clientId: clientId, certificatePEM: certificate.certificatePEM))
        }) { simulator, endpoints in
            let directory = try TestDirectory()
            let configuration = Harness.configuration(
                endpoints,
                credential: .certificate(
                    certificateFile: try directory.write("cert.pem", certificate.certificatePEM),
                    privateKeyFile: try directory.write("key.pem", certificate.privateKeyPEM)
                ),
                clientId: clientId
            )
            let (logger, handler) = Harness.capturingLogger()
            let model = try await GraphClient.withGraphClient(configuration: configuration, logger: logger) {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(model.userCount == Harness.tenant.users.count)
            #expect(simulator.requestLog().contains { $0.path.contains("/oauth2/v2.0/token") && $0.status == 200 })
            #expect(!Harness.text(of: handler).contains("PRIVATE KEY"))
        }
    }

    @Test("certificate: a key that does not match the registered certificate is refused")
    func wrongCertificate() async throws {
        let registered = try TestCertificate.first()
        let other = try TestCertificate.second()
        let clientId = "0c1d2e3f-0000-4000-8000-00000000c3a8"
        try await Harness.withSimulator(configure: {
            $0.applications.append(SimulatedApplication(clientId: clientId, certificatePEM: registered.certificatePEM))
        }) { _, endpoints in
            let directory = try TestDirectory()
            let configuration = Harness.configuration(
                endpoints,
                credential: .certificate(
                    certificateFile: try directory.write("cert.pem", other.certificatePEM),
                    privateKeyFile: try directory.write("key.pem", other.privateKeyPEM)
                ),
                clientId: clientId
            )
            await #expect {
                try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t")) {
                    try await $0.readTenant(attributes: [], groups: [])
                }
            } throws: { ($0 as? AuthenticationError)?.entraErrorDescription?.hasPrefix("AADSTS") == true }
        }
    }

    @Test("workload identity federation: the assertion is re-read from the file on every token request")
    func federated() async throws {
        let issuer = try TestIssuer()
        let clientId = "0c1d2e3f-0000-4000-8000-00000000fed1"
        let subject = "system:serviceaccount:allot:allot"
        try await Harness.withSimulator(configure: {
            $0.applications.append(
                SimulatedApplication(
                    clientId: clientId,
                    federatedCredentials: [
                        SimulatedFederatedCredential(
                            issuer: issuer.issuer,
                            subject: subject,
                            signingKeyPEM: issuer.publicKeyPEM
                        )
                    ]
                )
            )
        }) { simulator, endpoints in
            let directory = try TestDirectory()
            let tokenFile = try directory.write("azure-identity-token", try issuer.token(subject: subject))
            let configuration = Harness.configuration(
                endpoints,
                credential: .federatedTokenFile(tokenFile),
                clientId: clientId
            )
            try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t")) { client in
                let first = try await client.readTenant(attributes: [], groups: [])
                #expect(first.userCount == Harness.tenant.users.count)

                // The file rotates to a token for another subject: the next token request sends it and is refused.
                _ = try directory.write(
                    "azure-identity-token",
                    try issuer.token(subject: "system:serviceaccount:other:intruder")
                )
                simulator.revokeTokens()
                await #expect(throws: AuthenticationError.self) {
                    try await client.readTenant(attributes: [], groups: [])
                }

                // Rotated back to a valid token: the next request works again.
                _ = try directory.write("azure-identity-token", try issuer.token(subject: subject))
                let again = try await client.readTenant(attributes: [], groups: [])
                #expect(again.userCount == Harness.tenant.users.count)
            }
            let statuses = simulator.requestLog().filter { $0.path.contains("/oauth2/v2.0/token") }.map(\.status)
            #expect(statuses.first == 200 && statuses.last == 200 && statuses.count >= 3)
            #expect(
                statuses.dropFirst().dropLast().allSatisfy { (400..<500).contains($0) },
                "the rotated assertion was sent and refused"
            )
        }
    }

    @Test("managed identity through IMDS, user-assigned")
    func managedIdentity() async throws {
        let identity = "0c1d2e3f-0000-4000-8000-0000000000a1"
        try await Harness.withSimulator(configure: { $0.managedIdentityClientIds = [identity] }) {
            simulator,
            endpoints in
            let configuration = Harness.configuration(endpoints, credential: .managedIdentity(clientId: identity))
            let model = try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t"))
            {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(model.userCount == Harness.tenant.users.count)
            let imds = try #require(
                simulator.requestLog().first { $0.path.hasPrefix("/metadata/identity/oauth2/token") }
            )
            #expect(imds.method == "GET")
            #expect(imds.path.contains("api-version=2018-02-01"))
            #expect(imds.path.contains("resource=https%3A%2F%2Fgraph.microsoft.com%2F"))
            #expect(imds.path.contains("client_id=\(identity)"))
        }
    }

    @Test("managed identity: IMDS answering 404 (starting) or 410 (updating) is retried", arguments: [404, 410])
    func managedIdentityNotReady(status: Int) async throws {
        let identity = "0c1d2e3f-0000-4000-8000-0000000000a1"
        try await Harness.withSimulator(configure: { $0.managedIdentityClientIds = [identity] }) {
            simulator,
            endpoints in
            simulator.addFault(SimulatedFault(kind: .tokenOutage, count: 2, status: status))
            let configuration = Harness.configuration(endpoints, credential: .managedIdentity(clientId: identity))
            let model = try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t"))
            {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(model.userCount == Harness.tenant.users.count)
            let imds = simulator.requestLog().filter { $0.path.hasPrefix("/metadata/identity/oauth2/token") }.map(
                \.status
            )
            #expect(imds == [status, status, 200])
        }
    }

    @Test("managed identity: an identity IMDS does not know surfaces IMDS's error")
    func unknownManagedIdentity() async throws {
        try await Harness.withSimulator { _, endpoints in
            let configuration = Harness.configuration(
                endpoints,
                credential: .managedIdentity(clientId: "0c1d2e3f-0000-4000-8000-0000000000ff")
            )
            await #expect {
                try await GraphClient.withGraphClient(configuration: configuration, logger: Logger(label: "t")) {
                    try await $0.readTenant(attributes: [], groups: [])
                }
            } throws: { error in
                guard let error = error as? AuthenticationError else { return false }
                return error.entraError == "invalid_request"
                    && "\(error)".contains("managed identity 0c1d2e3f-0000-4000-8000-0000000000ff")
            }
        }
    }

    @Test("a token endpoint outage is retried, then surfaces Entra's error")
    func tokenOutage() async throws {
        try await Harness.withSimulator { simulator, endpoints in
            simulator.addFault(SimulatedFault(kind: .tokenOutage, count: 2))
            let model = try await Harness.withSecretClient(endpoints) {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(model.userCount == Harness.tenant.users.count)

            simulator.addFault(SimulatedFault(kind: .tokenOutage, count: -1))
            simulator.revokeTokens()
            await #expect {
                try await Harness.withSecretClient(endpoints) { try await $0.readTenant(attributes: [], groups: []) }
            } throws: { error in
                guard let error = error as? AuthenticationError else { return false }
                return "\(error)".contains("HTTP 503") && error.entraError != nil
            }
        }
    }

    @Test("TLS: the simulator's certificate is trusted through graph.caFile, and refused without it")
    func privateCA() async throws {
        let directory = try TestDirectory()
        let certificatePath = directory.path + "/simulator.pem"
        try await Harness.withSimulator(configure: { $0.tls = .selfSigned(writeCertificateTo: certificatePath) }) {
            _,
            endpoints in
            #expect(endpoints.graphEndpoint.hasPrefix("https://"))
            let trusted = try await Harness.withSecretClient(endpoints, adjust: { $0.caFile = certificatePath }) {
                try await $0.readTenant(attributes: [], groups: [])
            }
            #expect(trusted.userCount == Harness.tenant.users.count)
            // AsyncHTTPClient tries new connections until the connect timeout, then fails the
            // request with the last one's error (the TLS one): 1 s instead of the default 10.
            await #expect {
                try await Harness.withSecretClient(endpoints, adjust: { $0.timeout.connect = .seconds(1) }) {
                    try await $0.readTenant(attributes: [], groups: [])
                }
            } throws: { "\($0)".contains("TLS verification") && "\($0)".contains("graph.caFile") }
        }
    }
}
