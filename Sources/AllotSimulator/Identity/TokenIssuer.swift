import AllotCore
import HTTPTypes
import X509

/// The Microsoft Entra token endpoint for the client-credentials grant (secret, certificate
/// assertion, federated assertion) and the Azure IMDS managed-identity endpoint: it decides
/// who the caller is. Issuing and storing the token is the caller's business.
struct TokenIssuer: Sendable {
    /// A registered app with its credentials parsed once.
    struct Registration: Sendable {
        let clientId: String
        let secret: String?
        let certificate: RegisteredCertificate?
        let federated: [(credential: SimulatedFederatedCredential, key: Certificate.PublicKey)]
        let roles: Set<String>
    }

    /// What a token request proved.
    struct Grant: Sendable, Equatable {
        /// The application (or managed identity) the token is for.
        let applicationId: String
        /// The resource the token is for (`https://graph.microsoft.com`).
        let resource: String
        /// The app roles granted to the identity, for the token's `roles` claim.
        let roles: Set<String>
    }

    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Microsoft Graph's application id, an alternative to its URI in scopes.
    static let graphAppId = "00000003-0000-0000-c000-000000000000"
    static let graphResources = [
        "https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn", graphAppId,
    ]
    /// Clock skew Entra tolerates on assertion times.
    static let skewSeconds = 300.0

    let tenantId: String
    let tenantDomain: String
    let registrations: [Registration]
    let managedIdentityClientIds: [String]
    /// The roles of any identity that is not a registered application.
    let defaultRoles: Set<String>

    /// An issuer that knows no applications (any client is accepted, with Allot's roles).
    init(tenantId: String, tenantDomain: String) {
        self.tenantId = tenantId
        self.tenantDomain = tenantDomain
        registrations = []
        managedIdentityClientIds = []
        defaultRoles = SimulatedApplication.allotRoles
    }

    /// - Throws: a description of the credential that cannot be read (certificate or key PEM).
    init(configuration: SimulatorConfiguration) throws(SimulatorSetupError) {
        tenantId = configuration.tenantId
        tenantDomain = configuration.tenantDomain
        managedIdentityClientIds = configuration.managedIdentityClientIds
        defaultRoles = configuration.defaultRoles
        var registrations: [Registration] = []
        for app in configuration.applications {
            var certificate: RegisteredCertificate?
            if let pem = app.certificatePEM {
                do { certificate = try RegisteredCertificate(pem: pem) } catch {
                    throw SimulatorSetupError(
                        "the certificate of application \(app.clientId) is not a PEM certificate: \(error)"
                    )
                }
            }
            var federated: [(SimulatedFederatedCredential, Certificate.PublicKey)] = []
            for credential in app.federatedCredentials {
                do {
                    federated.append((credential, try FederatedSigningKey.publicKey(pem: credential.signingKeyPEM)))
                } catch {
                    throw SimulatorSetupError(
                        "the signing key of federated credential '\(credential.issuer)' / '\(credential.subject)' of application \(app.clientId) is not a PEM public key or certificate: \(error)"
                    )
                }
            }
            registrations.append(
                Registration(
                    clientId: app.clientId,
                    secret: app.clientSecret,
                    certificate: certificate,
                    federated: federated,
                    roles: app.roles
                )
            )
        }
        self.registrations = registrations
    }

    /// Whether a tenant path segment names this tenant (id or domain, any case).
    func isThisTenant(_ segment: String) -> Bool {
        segment.lowercased() == tenantId.lowercased() || segment.lowercased() == tenantDomain.lowercased()
    }

    // MARK: Token endpoint

    /// Checks a `POST /{tenant}/oauth2/v2.0/token` form.
    /// - Parameters:
    ///   - tenant: the tenant path segment.
    ///   - tokenEndpoints: the addresses a client assertion's `aud` may name (this endpoint as
    ///     the client reached it and as the simulator advertises it).
    ///   - basicCredentials: client id and secret from an `Authorization: Basic` header.
    func authorize(
        tenant: String,
        form: [String: String],
        basicCredentials: (String, String)?,
        tokenEndpoints: [String],
        now: Double
    ) throws(EntraError) -> Grant {
        guard isThisTenant(tenant) else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_request",
                code: 90002,
                message:
                    "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            )
        }
        guard let grantType = form["grant_type"], !grantType.isEmpty else { throw .missingParameter("grant_type") }
        guard grantType == "client_credentials" else {
            throw EntraError(
                status: .badRequest,
                error: "unsupported_grant_type",
                code: 70003,
                message: "The app requested an unsupported grant type '\(grantType)'."
            )
        }
        guard let clientId = form["client_id"] ?? basicCredentials?.0, !clientId.isEmpty else {
            throw .missingParameter("client_id")
        }
        guard let scope = form["scope"], !scope.isEmpty else { throw .missingParameter("scope") }
        let resource = try Self.resource(ofScope: scope, tenantDomain: tenantDomain)

        let registration: Registration?
        if registrations.isEmpty {
            registration = nil
        } else if let found = registrations.first(where: { $0.clientId.lowercased() == clientId.lowercased() }) {
            registration = found
        } else {
            throw EntraError(
                status: .badRequest,
                error: "unauthorized_client",
                code: 700016,
                message:
                    "Application with identifier '\(clientId)' was not found in the directory '\(tenantDomain)'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            )
        }

        if let secret = form["client_secret"] ?? basicCredentials?.1 {
            if let registration, registration.secret != secret {
                throw .invalidClient(
                    7_000_215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientId)'."
                )
            }
        } else if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == Self.assertionType else {
                throw EntraError(
                    status: .badRequest,
                    error: "invalid_request",
                    code: 50027,
                    message:
                        "Invalid client_assertion_type '\(form["client_assertion_type"] ?? "")'; expected '\(Self.assertionType)'."
                )
            }
            guard let token = JSONWebToken(assertion) else {
                throw .invalidClient(50027, "JWT token is invalid or malformed.")
            }
            if token.string("iss") == clientId {
                try verifyCertificateAssertion(
                    token,
                    clientId: clientId,
                    registration: registration,
                    tokenEndpoints: tokenEndpoints,
                    now: now
                )
            } else {
                try verifyFederatedAssertion(token, clientId: clientId, registration: registration, now: now)
            }
        } else {
            throw .invalidClient(
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
            )
        }
        return Grant(
            applicationId: registration?.clientId ?? clientId,
            resource: resource,
            roles: registration?.roles ?? defaultRoles
        )
    }

    /// The resource of a `{resource}/.default` scope, when it is Microsoft Graph.
    static func resource(ofScope scope: String, tenantDomain: String) throws(EntraError) -> String {
        let scopes = scope.split(separator: " ").map(String.init)
        guard scopes.count == 1, let only = scopes.first, only.hasSuffix("/.default") else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_scope",
                code: 1_002_012,
                message:
                    "The provided value for scope \(scope) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            )
        }
        var resource = String(only.dropLast("/.default".count))
        while resource.hasSuffix("/") { resource.removeLast() }
        guard graphResources.contains(resource.lowercased()) else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_resource",
                code: 500_011,
                message:
                    "The resource principal named \(resource) was not found in the tenant named \(tenantDomain). This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            )
        }
        return "https://graph.microsoft.com"
    }

    private func verifyTimes(_ token: JSONWebToken, now: Double) throws(EntraError) {
        guard let expiry = token.date("exp") else {
            throw .invalidClient(50027, "JWT token is invalid or malformed: it has no 'exp' claim.")
        }
        let notBefore = token.date("nbf") ?? token.date("iat") ?? expiry - 600
        if now > expiry + Self.skewSeconds || now + Self.skewSeconds < notBefore {
            throw .invalidClient(
                700_024,
                "Client assertion is not within its valid time range. Current time: \(UTCTime(now).graphDate).0000000Z, assertion valid from \(UTCTime(notBefore).graphDate).0000000Z, expiry time of assertion \(UTCTime(expiry).graphDate).0000000Z. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."
            )
        }
    }

    private func verifyCertificateAssertion(
        _ token: JSONWebToken,
        clientId: String,
        registration: Registration?,
        tokenEndpoints: [String],
        now: Double
    ) throws(EntraError) {
        guard token.string("sub") == clientId else {
            throw .invalidClient(
                700_021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."
            )
        }
        guard
            token.audiences.contains(where: { audience in
                tokenEndpoints.contains { $0.lowercased() == audience.lowercased() }
            })
        else {
            throw .invalidClient(
                700_023,
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."
            )
        }
        try verifyTimes(token, now: now)
        guard let registration else { return }
        let presented = token.header["x5t#S256"]?.stringValue ?? token.header["x5t"]?.stringValue ?? "none"
        guard let certificate = registration.certificate, certificate.matches(token) else {
            throw .invalidClient(
                700_027,
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '\(presented)', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '\(registration.clientId)'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments#app-registration-and-token-service-root-endpoints to know more.]"
            )
        }
        guard token.algorithm == "PS256" || token.algorithm == "RS256",
            token.isSigned(by: certificate.certificate.publicKey)
        else {
            throw .invalidClient(
                700_027,
                "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '\(certificate.hexThumbprint)', Found key 'Start=\(certificate.certificate.notValidBefore), End=\(certificate.certificate.notValidAfter)']"
            )
        }
    }

    private func verifyFederatedAssertion(
        _ token: JSONWebToken,
        clientId: String,
        registration: Registration?,
        now: Double
    ) throws(EntraError) {
        let hint =
            "Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        guard let registration else {
            try verifyTimes(token, now: now)
            return
        }
        let issuer = token.string("iss") ?? ""
        let byIssuer = registration.federated.filter { $0.credential.issuer == issuer }
        guard !byIssuer.isEmpty else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_request",
                code: 700_211,
                message:
                    "No matching federated identity record found for presented assertion issuer '\(issuer)'. \(hint)"
            )
        }
        let subject = token.string("sub") ?? ""
        let bySubject = byIssuer.filter { $0.credential.subject == subject }
        guard !bySubject.isEmpty else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_request",
                code: 700_213,
                message:
                    "No matching federated identity record found for presented assertion subject '\(subject)'. \(hint)"
            )
        }
        guard let match = bySubject.first(where: { token.audiences.contains($0.credential.audience) }) else {
            throw EntraError(
                status: .badRequest,
                error: "invalid_request",
                code: 700_212,
                message:
                    "No matching federated identity record found for presented assertion audience '\(token.audiences.joined(separator: ","))'. \(hint)"
            )
        }
        guard token.isSigned(by: match.key) else {
            throw EntraError(
                status: .unauthorized,
                error: "invalid_client",
                code: 700_027,
                message:
                    "Client assertion failed signature validation. [Reason - The key was not found or the signature did not verify against the federated credential's signing key.]"
            )
        }
        try verifyTimes(token, now: now)
    }

    // MARK: IMDS

    /// Checks a `GET /metadata/identity/oauth2/token` request.
    /// - Returns: the identity's client id (the system identity when none is named) and the resource.
    func authorizeManagedIdentity(query: QueryParameters, metadataHeader: String?) throws(IMDSError) -> Grant {
        guard metadataHeader?.lowercased() == "true" else {
            throw IMDSError("invalid_request", "Required metadata header not specified")
        }
        guard query["api-version"] != nil else {
            throw IMDSError("invalid_request", "Required query variable 'api-version' is missing")
        }
        guard let resource = query["resource"], !resource.isEmpty else {
            throw IMDSError("invalid_request", "Required query variable 'resource' is missing")
        }
        var trimmed = resource
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard Self.graphResources.contains(trimmed.lowercased()) else {
            throw IMDSError(
                "invalid_resource",
                "AADSTS500011: The resource principal named \(resource) was not found in the tenant named \(tenantDomain).",
                status: .badRequest
            )
        }
        if query["object_id"] != nil || query["msi_res_id"] != nil || query["mi_res_id"] != nil {
            throw IMDSError("invalid_request", "Identity not found")
        }
        if let clientId = query["client_id"] {
            guard managedIdentityClientIds.contains(where: { $0.lowercased() == clientId.lowercased() }) else {
                throw IMDSError("invalid_request", "Identity not found")
            }
            return Grant(applicationId: clientId, resource: resource, roles: defaultRoles)
        }
        return Grant(applicationId: systemIdentityId, resource: resource, roles: defaultRoles)
    }

    /// The client id of the system-assigned identity (fixed per tenant).
    var systemIdentityId: String {
        "5e1f1a7d-0000-4000-8000-" + String(tenantId.filter(\.isHexDigit).suffix(12)).leftPadded(to: 12)
    }
}

/// An IMDS error: `{"error": ..., "error_description": ...}`.
struct IMDSError: Error, Sendable {
    let error: String
    let description: String
    let status: HTTPResponse.Status

    init(_ error: String, _ description: String, status: HTTPResponse.Status = .badRequest) {
        self.error = error
        self.description = description
        self.status = status
    }

    var body: [UInt8] {
        var writer = JSONWriter()
        writer.raw("{\"error\":")
        writer.string(error)
        writer.raw(",\"error_description\":")
        writer.string(description)
        writer.byte(UInt8(ascii: "}"))
        return writer.bytes
    }
}

/// A simulator configuration that cannot be served, and what to fix.
public struct SimulatorSetupError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
