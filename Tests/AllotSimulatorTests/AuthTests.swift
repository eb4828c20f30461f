import AllotCore
import Foundation
import Testing

@testable import AllotSimulator

@Suite("Token endpoint (secret, certificate, federated), IMDS, bearer tokens")
struct AuthTests {
    static let appId = "6731de76-14a6-49ae-97bc-6eba6914391e"
    static let graphScope = "https://graph.microsoft.com/.default"
    static let issuer = "https://kubernetes.default.svc.cluster.local"
    static let subject = "system:serviceaccount:allot:allot"

    static func form(_ extra: [String: String]) -> [String: String] {
        ["client_id": appId, "grant_type": "client_credentials", "scope": graphScope].merging(extra) { $1 }
    }

    /// Expects an Entra error body with this OAuth error and AADSTS code.
    static func expectEntraError(
        _ reply: Harness.Reply,
        status: Int,
        error: String,
        code: Int,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == status, sourceLocation: sourceLocation)
        #expect(reply["error"] == .string(error), sourceLocation: sourceLocation)
        #expect(reply["error_codes"] == .array([.number(Double(code))]), sourceLocation: sourceLocation)
        #expect(
            reply["error_description"]?.stringValue?.hasPrefix("AADSTS\(code): ") == true,
            sourceLocation: sourceLocation
        )
        #expect(
            reply["error_description"]?.stringValue?.contains("Correlation ID: ") == true,
            sourceLocation: sourceLocation
        )
        for field in ["timestamp", "trace_id", "correlation_id"] {
            #expect(reply[field]?.stringValue?.isEmpty == false, "\(field)", sourceLocation: sourceLocation)
        }
    }

    @Test("client secret: good, wrong, unknown application, none at all")
    func secret() async throws {
        var configuration = SimulatorConfiguration()
        configuration.applications = [SimulatedApplication(clientId: Self.appId, clientSecret: "s3cret~value")]
        try await Harness.run(configuration: configuration) { harness in
            let good = try await harness.tokenRequest(Self.form(["client_secret": "s3cret~value"]))
            #expect(good.status == 200)
            #expect(good["token_type"] == .string("Bearer"))
            #expect(good["expires_in"]?.intValue == 3599)
            let token = try #require(good["access_token"]?.stringValue)
            #expect(try await harness.graph(.GET, "/users", token: token).status == 200)

            let byDomain = try await harness.tokenRequest(
                Self.form(["client_secret": "s3cret~value"]),
                tenant: SampleTenant.tenantDomain
            )
            #expect(byDomain.status == 200)
            let basic = Data("\(Self.appId):s3cret~value".utf8).base64EncodedString()
            let viaBasic = try await harness.tokenRequest(
                ["grant_type": "client_credentials", "scope": Self.graphScope],
                headers: [("Authorization", "Basic \(basic)")]
            )
            #expect(viaBasic.status == 200)

            let wrong = try await harness.tokenRequest(
                Self.form(["client_secret": "guess"]),
                headers: [("client-request-id", "corr-1")]
            )
            Self.expectEntraError(wrong, status: 401, error: "invalid_client", code: 7_000_215)
            #expect(wrong["correlation_id"] == .string("corr-1"))
            #expect(!(wrong.json.map { "\($0)" } ?? "").contains("s3cret"), "a secret never appears in an error")

            let stranger = try await harness.tokenRequest(
                Self.form(["client_id": "00000000-0000-0000-0000-000000000001", "client_secret": "x"])
            )
            Self.expectEntraError(stranger, status: 400, error: "unauthorized_client", code: 700_016)
            let none = try await harness.tokenRequest(Self.form([:]))
            Self.expectEntraError(none, status: 401, error: "invalid_client", code: 7_000_218)
        }
    }

    @Test("request problems: tenant, grant type, scope, missing parameters")
    func requestProblems() async throws {
        try await Harness.run { harness in
            let secret = ["client_secret": "x"]
            Self.expectEntraError(
                try await harness.tokenRequest(Self.form(secret), tenant: "fabrikam.onmicrosoft.com"),
                status: 400,
                error: "invalid_request",
                code: 90002
            )
            Self.expectEntraError(
                try await harness.tokenRequest(Self.form(secret.merging(["grant_type": "password"]) { $1 })),
                status: 400,
                error: "unsupported_grant_type",
                code: 70003
            )
            Self.expectEntraError(
                try await harness.tokenRequest(Self.form(secret.merging(["scope": "User.Read"]) { $1 })),
                status: 400,
                error: "invalid_scope",
                code: 1_002_012
            )
            Self.expectEntraError(
                try await harness.tokenRequest(
                    Self.form(secret.merging(["scope": "https://management.azure.com/.default"]) { $1 })
                ),
                status: 400,
                error: "invalid_resource",
                code: 500_011
            )
            var noScope = Self.form(secret)
            noScope["scope"] = nil
            Self.expectEntraError(
                try await harness.tokenRequest(noScope),
                status: 400,
                error: "invalid_request",
                code: 900_144
            )
            let graphById = try await harness.tokenRequest(
                Self.form(secret.merging(["scope": "00000003-0000-0000-c000-000000000000/.default"]) { $1 })
            )
            #expect(graphById.status == 200)
        }
    }

    @Test("certificate assertions: PS256 and RS256 accepted; bad signature, expiry, audience, thumbprint refused")
    func certificate() async throws {
        let key = try TestKey(.rsa)
        let stranger = try TestKey(.rsa, name: "stranger")
        var configuration = SimulatorConfiguration()
        configuration.applications = [SimulatedApplication(clientId: Self.appId, certificatePEM: key.certificatePEM)]
        try await Harness.run(configuration: configuration) { harness in
            let audience = "\(harness.endpoints.authority)/\(SampleTenant.tenantId)/oauth2/v2.0/token"
            func request(_ assertion: String) async throws -> Harness.Reply {
                try await harness.tokenRequest(
                    Self.form(["client_assertion_type": TokenIssuer.assertionType, "client_assertion": assertion])
                )
            }
            let ps256 = try await request(try key.clientAssertion(clientId: Self.appId, audience: audience))
            #expect(ps256.status == 200)
            let rs256 = try await request(
                try key.clientAssertion(clientId: Self.appId, audience: audience, algorithm: "RS256", sha256: false)
            )
            #expect(rs256.status == 200)

            let tampered = try key.clientAssertion(clientId: Self.appId, audience: audience)
            let parts = tampered.split(separator: ".")
            let forged = try stranger.clientAssertion(clientId: Self.appId, audience: audience).split(separator: ".")[2]
            let badSignature = try await request("\(parts[0]).\(parts[1]).\(forged)")
            Self.expectEntraError(badSignature, status: 401, error: "invalid_client", code: 700_027)
            #expect(badSignature["error_description"]?.stringValue?.contains("signature validation") == true)

            let unknownCertificate = try await request(
                try stranger.clientAssertion(clientId: Self.appId, audience: audience)
            )
            Self.expectEntraError(unknownCertificate, status: 401, error: "invalid_client", code: 700_027)

            let expired = try await request(
                try key.clientAssertion(clientId: Self.appId, audience: audience, expiresIn: -900)
            )
            Self.expectEntraError(expired, status: 401, error: "invalid_client", code: 700_024)

            let wrongAudience = try await request(
                try key.clientAssertion(
                    clientId: Self.appId,
                    audience: "https://login.microsoftonline.com/\(SampleTenant.tenantId)/oauth2/v2.0/token"
                )
            )
            Self.expectEntraError(wrongAudience, status: 401, error: "invalid_client", code: 700_023)

            let garbage = try await request("not-a-jwt")
            Self.expectEntraError(garbage, status: 401, error: "invalid_client", code: 50027)
        }
    }

    @Test("federated assertions: matching credential accepted; issuer, subject, audience, signature, expiry checked")
    func federated() async throws {
        let rsa = try TestKey(.rsa)
        let ec = try TestKey(.p256)
        var configuration = SimulatorConfiguration()
        configuration.applications = [
            SimulatedApplication(
                clientId: Self.appId,
                federatedCredentials: [
                    SimulatedFederatedCredential(
                        issuer: Self.issuer,
                        subject: Self.subject,
                        signingKeyPEM: try rsa.publicKeyPEM
                    ),
                    SimulatedFederatedCredential(
                        issuer: "https://token.actions.githubusercontent.com",
                        subject: "repo:contoso/allot:ref:refs/heads/main",
                        signingKeyPEM: ec.certificatePEM
                    ),
                ]
            )
        ]
        try await Harness.run(configuration: configuration) { harness in
            func external(
                _ key: TestKey,
                algorithm: String,
                issuer: String = Self.issuer,
                subject: String = Self.subject,
                audience: String = "api://AzureADTokenExchange",
                expiresIn: Double = 3600
            ) throws -> String {
                let now = Date().timeIntervalSince1970
                return try key.sign(
                    header: ["kid": "k1"],
                    claims: [
                        "iss": issuer, "sub": subject, "aud": [audience], "iat": Int(now), "nbf": Int(now),
                        "exp": Int(now + expiresIn),
                    ],
                    algorithm: algorithm
                )
            }
            func request(_ assertion: String) async throws -> Harness.Reply {
                try await harness.tokenRequest(
                    Self.form(["client_assertion_type": TokenIssuer.assertionType, "client_assertion": assertion])
                )
            }
            #expect(try await request(try external(rsa, algorithm: "RS256")).status == 200)
            #expect(try await request(try external(rsa, algorithm: "PS256")).status == 200)
            #expect(
                try await request(
                    try external(
                        ec,
                        algorithm: "ES256",
                        issuer: "https://token.actions.githubusercontent.com",
                        subject: "repo:contoso/allot:ref:refs/heads/main"
                    )
                ).status == 200
            )
            Self.expectEntraError(
                try await request(try external(rsa, algorithm: "RS256", issuer: "https://evil.example")),
                status: 400,
                error: "invalid_request",
                code: 700_211
            )
            Self.expectEntraError(
                try await request(try external(rsa, algorithm: "RS256", subject: "system:serviceaccount:x:y")),
                status: 400,
                error: "invalid_request",
                code: 700_213
            )
            Self.expectEntraError(
                try await request(try external(rsa, algorithm: "RS256", audience: "api://other")),
                status: 400,
                error: "invalid_request",
                code: 700_212
            )
            Self.expectEntraError(
                try await request(try external(ec, algorithm: "ES256")),
                status: 401,
                error: "invalid_client",
                code: 700_027
            )
            Self.expectEntraError(
                try await request(try external(rsa, algorithm: "RS256", expiresIn: -900)),
                status: 401,
                error: "invalid_client",
                code: 700_024
            )
        }
    }

    @Test("managed identity through IMDS: system and user-assigned identities, Metadata header required")
    func managedIdentity() async throws {
        var configuration = SimulatorConfiguration()
        configuration.managedIdentityClientIds = ["aaaaaaaa-0000-0000-0000-000000000001"]
        try await Harness.run(configuration: configuration) { harness in
            let base = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/"
            let system = try await harness.send(.GET, base, headers: [("Metadata", "true")])
            #expect(system.status == 200)
            #expect(system["expires_in"] == .string("3599"))
            #expect(system["resource"] == .string("https://graph.microsoft.com/"))
            let token = try #require(system["access_token"]?.stringValue)
            #expect(try await harness.graph(.GET, "/subscribedSkus", token: token).status == 200)
            let assigned = try await harness.send(
                .GET,
                base + "&client_id=aaaaaaaa-0000-0000-0000-000000000001",
                headers: [("Metadata", "true")]
            )
            #expect(assigned["client_id"] == .string("aaaaaaaa-0000-0000-0000-000000000001"))
            let unknown = try await harness.send(
                .GET,
                base + "&client_id=bbbbbbbb-0000-0000-0000-000000000001",
                headers: [("Metadata", "true")]
            )
            #expect(unknown.status == 400)
            #expect(unknown["error_description"] == .string("Identity not found"))
            let noHeader = try await harness.send(.GET, base)
            #expect(noHeader.status == 400)
            #expect(noHeader["error_description"] == .string("Required metadata header not specified"))
            let otherResource = try await harness.send(
                .GET,
                "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net",
                headers: [("Metadata", "true")]
            )
            #expect(otherResource.status == 400)
        }
    }

    @Test("Graph answers 401 InvalidAuthenticationToken for missing, unknown, expired and revoked tokens")
    func bearerTokens() async throws {
        var configuration = SimulatorConfiguration()
        configuration.tokenLifetime = .zero
        try await Harness.run(configuration: configuration) { harness in
            let missing = try await harness.send(.GET, "/v1.0/users")
            #expect(missing.status == 401)
            #expect(missing.errorCode == "InvalidAuthenticationToken")
            #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let unknown = try await harness.graph(.GET, "/users", token: "made-up")
            #expect(unknown.status == 401)
            let expired = try await harness.graph(.GET, "/users", token: try await harness.token())
            #expect(expired.status == 401)
            #expect(expired.errorMessage == "Lifetime validation failed, the token is expired.")
        }
        try await Harness.run { harness in
            let token = try await harness.token()
            #expect(try await harness.graph(.GET, "/users", token: token).status == 200)
            harness.simulator.revokeTokens()
            let revoked = try await harness.graph(.GET, "/users", token: token)
            #expect(revoked.status == 401)
            #expect(try await harness.graph(.GET, "/users", token: try await harness.token()).status == 200)
        }
    }

    @Test("the OpenID configuration names this simulator's endpoints")
    func openIDConfiguration() async throws {
        try await Harness.run { harness in
            let reply = try await harness.send(
                .GET,
                "/\(SampleTenant.tenantDomain)/v2.0/.well-known/openid-configuration"
            )
            #expect(reply.status == 200)
            let base = "\(harness.endpoints.authority)/\(SampleTenant.tenantId)"
            #expect(reply["token_endpoint"] == .string("\(base)/oauth2/v2.0/token"))
            #expect(reply["authorization_endpoint"] == .string("\(base)/oauth2/v2.0/authorize"))
            #expect(reply["issuer"] == .string("\(base)/v2.0"))
            let unknown = try await harness.send(.GET, "/fabrikam.com/v2.0/.well-known/openid-configuration")
            #expect(unknown.status == 400)
        }
    }

    @Test("credentials that cannot be read make the simulator refuse to start")
    func badCredentials() async throws {
        var configuration = SimulatorConfiguration()
        configuration.applications = [SimulatedApplication(clientId: Self.appId, certificatePEM: "not a certificate")]
        await #expect(throws: SimulatorSetupError.self) {
            try await GraphSimulator.withRunning(tenant: Fixture.tenant(users: 1), configuration: configuration) {
                _,
                _ in
            }
        }
    }
}
