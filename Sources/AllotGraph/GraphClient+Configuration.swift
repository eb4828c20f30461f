import AllotCore
import Foundation

extension GraphClient {
    /// Everything a ``GraphClient`` needs: endpoints, credential, timeouts, concurrency, retry
    /// and write pacing. Every tuning value has a default; build one from `allot.yaml` with
    /// ``init(_:environment:)``.
    public struct Configuration: Sendable {
        /// The tenant id or verified domain (the token endpoint's path).
        public var tenant: String
        /// The application (client) id.
        public var clientId: String
        public var credential: AllotConfiguration.Credential
        /// The Graph base address, e.g. `https://graph.microsoft.com/v1.0`.
        public var graphEndpoint: String
        /// The Entra authority host, e.g. `https://login.microsoftonline.com`.
        public var authority: String
        /// The Graph resource tokens are requested for (`https://graph.microsoft.com/`); the
        /// client-credentials scope is this plus `.default`.
        public var resource: String
        /// The IMDS base address (`http://169.254.169.254`); tests point it at the simulator.
        public var managedIdentityEndpoint: String
        /// `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`), where the client secret lives
        /// when `clientSecretFile` is not given.
        public var credentialsDirectory: String?
        /// Extra trusted CA certificates (PEM) for a TLS-inspecting proxy or the simulator.
        public var caFile: String?
        /// The HTTPS proxy, from `HTTPS_PROXY` / `NO_PROXY`.
        public var proxy: ProxySettings?
        public var timeout: Timeout
        public var concurrency: Concurrency
        public var retry: RetryPolicy
        /// The identity write quota to pace inside (3,000 writes per 150 s).
        public var writeQuota: AllotConfiguration.WriteQuota
        /// The share of the write quota paced over time; the rest may go out at once.
        public var writeHeadroom: Double
        /// The largest response body accepted.
        public var maxResponseBytes: Int
        /// How long a license call waits before its one retry when Graph refuses it for the
        /// usage location that Allot's own PATCH set moments before (the directory had not
        /// replicated the PATCH yet).
        public var replicationDelay: Duration
        /// The clock the token cache reads to decide when a token is due for replacement: the
        /// monotonic time, which a test replaces to move a token's age on without waiting.
        public var tokenClock: @Sendable () -> ContinuousClock.Instant = { .now }

        public init(
            tenant: String,
            clientId: String,
            credential: AllotConfiguration.Credential,
            graphEndpoint: String = AllotConfiguration.Cloud.global.graphEndpoint,
            authority: String = AllotConfiguration.Cloud.global.authority,
            resource: String = AllotConfiguration.Cloud.global.graphResource,
            managedIdentityEndpoint: String = "http://169.254.169.254",
            credentialsDirectory: String? = nil,
            caFile: String? = nil,
            proxy: ProxySettings? = nil,
            timeout: Timeout = Timeout(),
            concurrency: Concurrency = Concurrency(),
            retry: RetryPolicy = RetryPolicy(),
            writeQuota: AllotConfiguration.WriteQuota = AllotConfiguration.WriteQuota(),
            writeHeadroom: Double = 0.95,
            maxResponseBytes: Int = 64 << 20,
            replicationDelay: Duration = .seconds(5)
        ) {
            self.tenant = tenant
            self.clientId = clientId
            self.credential = credential
            self.graphEndpoint = graphEndpoint
            self.authority = authority
            self.resource = resource
            self.managedIdentityEndpoint = managedIdentityEndpoint
            self.credentialsDirectory = credentialsDirectory
            self.caFile = caFile
            self.proxy = proxy
            self.timeout = timeout
            self.concurrency = concurrency
            self.retry = retry
            self.writeQuota = writeQuota
            self.writeHeadroom = writeHeadroom
            self.maxResponseBytes = maxResponseBytes
            self.replicationDelay = replicationDelay
        }

        /// The client configuration `allot.yaml` describes, with the proxy and credentials
        /// directory taken from `environment`.
        /// - Throws: ``GraphConfigurationError`` when `HTTPS_PROXY` is malformed.
        public init(
            _ configuration: AllotConfiguration,
            environment: [String: String] = ProcessInfo.processInfo.environment
        ) throws {
            self.init(
                tenant: configuration.tenant,
                clientId: configuration.auth.clientId,
                credential: configuration.auth.credential,
                graphEndpoint: configuration.effectiveGraphEndpoint,
                authority: configuration.effectiveAuthority,
                resource: configuration.cloud.graphResource,
                credentialsDirectory: environment["CREDENTIALS_DIRECTORY"],
                caFile: configuration.graph.caFile,
                proxy: try ProxySettings.fromEnvironment(environment),
                timeout: Timeout(unreachable: configuration.graph.timeout),
                writeQuota: configuration.graph.writeQuota
            )
        }

        /// The client-credentials scope: the resource's `.default`.
        var scope: String { resource.hasSuffix("/") ? "\(resource).default" : "\(resource)/.default" }
    }

    /// Time limits of one HTTP request (AsyncHTTPClient's, plus a whole-request deadline), and
    /// how long an unreachable endpoint is retried (`graph.timeout`).
    public struct Timeout: Sendable, Hashable {
        /// At most `unreachable`.
        public var connect: Duration
        /// The longest silence while a response is awaited or read.
        public var read: Duration
        /// The longest a whole request may take, body included.
        public var request: Duration
        /// How long an endpoint that cannot be reached (refused, connect timed out) is retried:
        /// no retry starts after it and the last ends by it, so an unreachable endpoint fails within it.
        public var unreachable: Duration

        public init(
            connect: Duration = .seconds(10),
            read: Duration = .seconds(60),
            request: Duration = .seconds(120),
            unreachable: Duration = .seconds(30)
        ) {
            self.connect = min(connect, unreachable)
            self.read = read
            self.request = request
            self.unreachable = unreachable
        }
    }

    /// How much runs at once.
    public struct Concurrency: Sendable, Hashable {
        /// Reads in flight: the users chain, each group's members, the SKUs.
        public var reads: Int
        /// `$batch` write requests in flight (the pacing budget still bounds the write rate).
        public var writeBatches: Int

        public init(reads: Int = 4, writeBatches: Int = 2) {
            self.reads = max(1, reads)
            self.writeBatches = max(1, writeBatches)
        }
    }
}

extension AllotConfiguration.Cloud {
    /// The Graph resource (App ID URI) tokens are requested for in this cloud.
    public var graphResource: String {
        var origin = graphEndpoint
        if let range = origin.range(of: "/v1.0") { origin.removeSubrange(range) }
        return origin + "/"
    }
}
