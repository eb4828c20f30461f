import AllotCore

/// How a ``GraphSimulator`` listens and whom it lets in.
///
/// Every property has a default except the tenant; `SimulatorConfiguration(tenantId:tenantDomain:)`
/// is a complete configuration that serves plain HTTP on an ephemeral loopback port and accepts
/// any client id with any secret.
public struct SimulatorConfiguration: Sendable {
    /// The address to bind; loopback unless the caller chose otherwise on purpose.
    public var host: String
    /// The port to bind; 0 picks a free one (read it from ``SimulatorEndpoints``).
    public var port: Int
    /// HTTPS instead of HTTP, when set.
    public var tls: SimulatorTLS?
    /// The tenant's object id (a GUID); the token endpoint also accepts ``tenantDomain``.
    public var tenantId: String
    /// The tenant's initial domain, such as `contoso.onmicrosoft.com`.
    public var tenantDomain: String
    /// The registered applications; empty means any client id with any secret or assertion is accepted.
    public var applications: [SimulatedApplication]
    /// User-assigned managed identities IMDS answers for (the system identity always works).
    public var managedIdentityClientIds: [String]
    /// How long an access token stays valid.
    public var tokenLifetime: Duration
    /// Graph's identity write quota per application and tenant; `nil` turns it off.
    public var writeQuota: SimulatedWriteQuota?
    /// The largest `$top` Graph accepts for users and members.
    public var maxPageSize: Int
    /// The app roles (application permissions) in the tokens of identities that are not a
    /// registered ``SimulatedApplication``: any client when none is registered, and every
    /// managed identity. By default every role Allot needs.
    public var defaultRoles: Set<String>
    /// Whether the independent items of a `$batch` run and answer in a (seeded) random order,
    /// as Graph promises no order, or in request order (for debugging).
    public var batchOrder: SimulatedBatchOrder
    /// Seeds the random batch order: the same seed and the same requests give the same orders.
    public var batchSeed: UInt64
    /// How long a write takes to be seen: a `PATCH`ed user property by every read and by
    /// `assignLicense`'s checks, a membership change by advanced (`ConsistencyLevel: eventual`)
    /// membership listings. Zero (the default) makes every write visible at once.
    public var consistencyLag: Duration
    /// Where the consistency lag reads the time; tests pass a ``ManualSimulatorClock``.
    public var clock: any SimulatorClock
    /// The service plans Graph refuses to combine on a user, and those that need another.
    public var licensingRules: SimulatedLicensingRules
    /// How long a users or groups delta token (`$deltatoken`, `$skiptoken`) stays valid: seven
    /// days for directory objects (delta-query-overview.md, "Token duration"). Read from
    /// ``clock``; an older token answers `410 Gone` with `syncStateNotFound`.
    public var deltaTokenLifetime: Duration
    /// Whether the tenant has Microsoft Entra ID P1 (or P2), which selecting or filtering on
    /// `signInActivity` needs; without it Graph answers 403
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    public var entraIDPremium: Bool

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        tls: SimulatorTLS? = nil,
        tenantId: String = SampleTenant.tenantId,
        tenantDomain: String = SampleTenant.tenantDomain,
        applications: [SimulatedApplication] = [],
        managedIdentityClientIds: [String] = [],
        tokenLifetime: Duration = .seconds(3599),
        writeQuota: SimulatedWriteQuota? = nil,
        maxPageSize: Int = 999,
        defaultRoles: Set<String> = SimulatedApplication.allotRoles,
        batchOrder: SimulatedBatchOrder = .random,
        batchSeed: UInt64 = 1,
        consistencyLag: Duration = .zero,
        clock: any SimulatorClock = SystemSimulatorClock(),
        licensingRules: SimulatedLicensingRules = .graph,
        deltaTokenLifetime: Duration = .seconds(7 * 86_400),
        entraIDPremium: Bool = true
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.tenantId = tenantId
        self.tenantDomain = tenantDomain
        self.applications = applications
        self.managedIdentityClientIds = managedIdentityClientIds
        self.tokenLifetime = tokenLifetime
        self.writeQuota = writeQuota
        self.maxPageSize = maxPageSize
        self.defaultRoles = defaultRoles
        self.batchOrder = batchOrder
        self.batchSeed = batchSeed
        self.consistencyLag = consistencyLag
        self.clock = clock
        self.licensingRules = licensingRules
        self.deltaTokenLifetime = deltaTokenLifetime
        self.entraIDPremium = entraIDPremium
    }
}

/// The order in which the independent items of a `$batch` run and are answered.
public enum SimulatedBatchOrder: String, Sendable, CaseIterable {
    /// A seeded random order for running, another for answering: Graph promises neither.
    case random
    /// Request order for both, for debugging.
    case sequential
}

extension SimulatorConfiguration {
    /// Parses an ISO 8601 date (`2026-12-07`, midnight UTC) or date-time with a zone
    /// (`2026-12-07T09:00:00Z`) into seconds since 1970.
    public static func parseDate(_ text: String) -> Double? {
        UTCTime.epochSeconds(parsing: text.count == 10 ? text + "T00:00:00Z" : text)
    }
}

/// Where the simulator's TLS certificate comes from.
public enum SimulatorTLS: Sendable, Hashable {
    /// A new self-signed certificate (SAN `127.0.0.1`, `::1` and `localhost`), written as PEM to
    /// the path when one is given, so that clients can trust it.
    case selfSigned(writeCertificateTo: String?)
    /// A certificate chain and its private key, both PEM files.
    case files(certificate: String, privateKey: String)
}

/// An app registration that may use the client-credentials grant.
public struct SimulatedApplication: Sendable, Hashable {
    /// The application (client) id.
    public var clientId: String
    /// The accepted client secret, if the app has one.
    public var clientSecret: String?
    /// A PEM certificate: client assertions must be signed by its key (PS256 or RS256, `x5t#S256` or `x5t`).
    public var certificatePEM: String?
    /// Workload identity federation: external tokens this app trusts.
    public var federatedCredentials: [SimulatedFederatedCredential]
    /// The application permissions (app roles) granted to the app, which its tokens carry in
    /// their `roles` claim; Graph answers 403 to a call none of them allows.
    public var roles: Set<String>

    public init(
        clientId: String,
        clientSecret: String? = nil,
        certificatePEM: String? = nil,
        federatedCredentials: [SimulatedFederatedCredential] = [],
        roles: Set<String> = SimulatedApplication.allotRoles
    ) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.certificatePEM = certificatePEM
        self.federatedCredentials = federatedCredentials
        self.roles = roles
    }

    /// The application permissions Allot asks for (`deploy/app-registration.md`): reading users,
    /// group members and SKUs, assigning licenses, and setting usage locations.
    public static let allotRoles: Set<String> = [
        "User.Read.All", "GroupMember.Read.All", "Organization.Read.All", "LicenseAssignment.ReadWrite.All",
        "User.ReadWrite.All",
    ]
}

/// A federated identity credential: which external tokens stand for the application.
public struct SimulatedFederatedCredential: Sendable, Hashable {
    /// The external token's `iss`, compared exactly (case-sensitive), as Entra does.
    public var issuer: String
    /// The external token's `sub`, compared exactly.
    public var subject: String
    /// A value the external token's `aud` must contain.
    public var audience: String
    /// The public key (or a certificate) that verifies the external token (RS256, PS256 or ES256).
    public var signingKeyPEM: String

    public init(issuer: String, subject: String, audience: String = "api://AzureADTokenExchange", signingKeyPEM: String)
    {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.signingKeyPEM = signingKeyPEM
    }
}

/// Graph's identity write quota: at most `writes` writes per application and tenant in any `window`.
public struct SimulatedWriteQuota: Sendable, Hashable {
    public var writes: Int
    public var window: Duration

    /// Graph's own figure is 3,000 writes per 150 seconds.
    public init(writes: Int = 3000, window: Duration = .seconds(150)) {
        self.writes = writes
        self.window = window
    }

    /// Parses `3000/150s` (writes per window; the window takes `s`, `m` or `h`).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let writes = Int(parts[0]), writes > 0,
            let window = DurationText.parse(String(parts[1]), bareSeconds: true), window > .zero
        else { return nil }
        self.init(writes: writes, window: window)
    }

}

/// The addresses a running simulator answers on.
public struct SimulatorEndpoints: Sendable, Hashable {
    /// `http://127.0.0.1:PORT`, or `https://...` with TLS.
    public var baseURL: String
    /// The Graph base address: `baseURL + "/v1.0"`.
    public var graphEndpoint: String
    /// The Entra authority host; the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    public var authority: String
    /// The IMDS base address; the token path is `/metadata/identity/oauth2/token`.
    public var imdsEndpoint: String
    /// The control API: `baseURL + "/_simulator"`.
    public var controlEndpoint: String
    /// The PEM file of the TLS certificate, when TLS is on and the certificate was written out or given.
    public var certificatePath: String?
    /// The PEM text of the TLS certificate, when TLS is on (trust it in test clients).
    public var certificatePEM: String?
    /// The bound port.
    public var port: Int

    init(scheme: String, host: String, port: Int, certificatePath: String?, certificatePEM: String?) {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        baseURL = "\(scheme)://\(hostPart):\(port)"
        graphEndpoint = baseURL + "/v1.0"
        authority = baseURL
        imdsEndpoint = baseURL
        controlEndpoint = baseURL + "/_simulator"
        self.certificatePath = certificatePath
        self.certificatePEM = certificatePEM
        self.port = port
    }
}

extension SimulatorEndpoints {
    /// What `allot simulate` prints once it listens: the endpoints, one per line.
    public func banner(userCount: Int, tenantId: String) -> String {
        var lines = [
            "Allot Graph simulator: \(userCount) users, tenant \(tenantId)",
            "  graph:     \(graphEndpoint)",
            "  authority: \(authority)  (token endpoint \(authority)/\(tenantId)/oauth2/v2.0/token)",
            "  imds:      \(imdsEndpoint)/metadata/identity/oauth2/token",
            "  control:   \(controlEndpoint)",
        ]
        if let certificatePath { lines.append("  certificate: \(certificatePath)") }
        lines.append("Stop with Ctrl-C or SIGTERM.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `baseURL` in what an `allot simulate` process has printed so far, once its
    /// ``banner(userCount:tenantId:)`` is out; `nil` before. For tests and benchmarks that run
    /// the simulator as a process on port 0.
    public static func baseURL(fromBanner output: String) -> String? {
        guard output.contains("\n  control:"),
            let line = output.split(separator: "\n").first(where: { $0.hasPrefix("  graph:") }),
            let graph = line.split(separator: " ").last, graph.hasSuffix("/v1.0")
        else { return nil }
        return String(graph.dropLast("/v1.0".count))
    }
}
