/// The whole of `allot.yaml` as plain values.
///
/// The YAML layer (`AllotConfig`) maps the file onto this type and owns all error
/// reporting; every other layer reads it. Every property has the default the product
/// brief documents, so `AllotConfiguration(tenant:)` is a complete configuration.
public struct AllotConfiguration: Sendable, Hashable {
    /// The tenant id (GUID) or a verified domain such as `contoso.onmicrosoft.com`.
    public var tenant: String
    /// The national cloud; it chooses both endpoints unless `graph` overrides them.
    public var cloud: Cloud
    /// Explicit endpoints; each overrides the one `cloud` implies.
    public var graph: GraphEndpoints
    /// How Allot authenticates to Microsoft Entra ID.
    public var auth: Authentication
    /// The policy directory, absolute (the loader resolves it against the config file).
    public var policiesPath: String
    /// The reconcile loop and the planner's safety settings.
    public var reconcile: ReconcileSettings
    /// The local status server.
    public var status: StatusSettings
    /// The structured log output.
    public var logging: LoggingSettings

    public init(
        tenant: String,
        cloud: Cloud = .global,
        graph: GraphEndpoints = GraphEndpoints(),
        auth: Authentication = Authentication(),
        policiesPath: String = "policies",
        reconcile: ReconcileSettings = ReconcileSettings(),
        status: StatusSettings = StatusSettings(),
        logging: LoggingSettings = LoggingSettings()
    ) {
        self.tenant = tenant
        self.cloud = cloud
        self.graph = graph
        self.auth = auth
        self.policiesPath = policiesPath
        self.reconcile = reconcile
        self.status = status
        self.logging = logging
    }
}

extension AllotConfiguration {
    /// A Microsoft national cloud. Only the two endpoints differ between clouds.
    public enum Cloud: String, Sendable, Hashable, CaseIterable {
        case global
        case usgov
        case usgovdod
        case china

        /// The Microsoft Graph v1.0 base address of this cloud.
        public var graphEndpoint: String {
            switch self {
            case .global: "https://graph.microsoft.com/v1.0"
            case .usgov: "https://graph.microsoft.us/v1.0"
            case .usgovdod: "https://dod-graph.microsoft.us/v1.0"
            case .china: "https://microsoftgraph.chinacloudapi.cn/v1.0"
            }
        }

        /// The Microsoft Entra authority host of this cloud.
        public var authority: String {
            switch self {
            case .global: "https://login.microsoftonline.com"
            case .usgov, .usgovdod: "https://login.microsoftonline.us"
            case .china: "https://login.chinacloudapi.cn"
            }
        }
    }

    /// Explicit Graph and authority endpoints, and how to reach them.
    public struct GraphEndpoints: Sendable, Hashable {
        /// Overrides the cloud's Graph base address (e.g. the simulator's).
        public var endpoint: String?
        /// Overrides the cloud's authority host.
        public var authority: String?
        /// A PEM bundle of extra trusted CA certificates (a TLS-inspecting proxy, the simulator).
        public var caFile: String?
        /// The identity write quota Allot paces itself inside: writes per window.
        public var writeQuota: WriteQuota
        /// How long a Graph or token endpoint that cannot be reached (connection refused,
        /// connect timed out) is retried before the request fails.
        public var timeout: Duration

        public init(
            endpoint: String? = nil,
            authority: String? = nil,
            caFile: String? = nil,
            writeQuota: WriteQuota = WriteQuota(),
            timeout: Duration = .seconds(30)
        ) {
            self.endpoint = endpoint
            self.authority = authority
            self.caFile = caFile
            self.writeQuota = writeQuota
            self.timeout = timeout
        }
    }

    /// Graph's identity write quota per application and tenant (3,000 writes per 150 s).
    public struct WriteQuota: Sendable, Hashable {
        public var writes: Int
        public var window: Duration

        public init(writes: Int = 3000, window: Duration = .seconds(150)) {
            self.writes = writes
            self.window = window
        }
    }

    /// The credential Allot presents to Microsoft Entra ID: exactly one mode.
    public struct Authentication: Sendable, Hashable {
        /// The application (client) id of the app registration.
        public var clientId: String
        public var credential: Credential

        public init(clientId: String = "", credential: Credential = .clientSecretFile(nil)) {
            self.clientId = clientId
            self.credential = credential
        }
    }

    /// One of the four supported ways to obtain a token. Secrets are always files.
    public enum Credential: Sendable, Hashable {
        /// A client secret read from a file; `nil` means `$CREDENTIALS_DIRECTORY/client-secret`.
        case clientSecretFile(String?)
        /// A certificate and its private key (PEM files): a PS256 client assertion.
        case certificate(certificateFile: String, privateKeyFile: String)
        /// Workload identity federation: an external token re-read from this file on every request.
        case federatedTokenFile(String)
        /// Azure managed identity through IMDS; `clientId` picks a user-assigned identity.
        case managedIdentity(clientId: String?)

        /// The credential kinds, by the `auth` key that chooses each.
        public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
            case clientSecretFile, certificate, federatedTokenFile, managedIdentity
        }
    }

    /// The status server's settings.
    public struct StatusSettings: Sendable, Hashable {
        /// `host:port` to listen on; loopback by default.
        public var listen: String

        public init(listen: String = "127.0.0.1:9464") {
            self.listen = listen
        }
    }

    /// The structured log output's settings.
    public struct LoggingSettings: Sendable, Hashable {
        /// The line format.
        public enum Format: String, Sendable, Hashable, CaseIterable {
            case json, logfmt, text
        }

        /// The least severe level written.
        public enum Level: String, Sendable, Hashable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }

        /// `nil` means json when stdout is not a terminal, text when it is.
        public var format: Format?
        public var level: Level

        public init(format: Format? = nil, level: Level = .info) {
            self.format = format
            self.level = level
        }
    }

    /// The Graph base address in effect: the explicit one, else the cloud's.
    public var effectiveGraphEndpoint: String { graph.endpoint ?? cloud.graphEndpoint }

    /// The authority host in effect: the explicit one, else the cloud's.
    public var effectiveAuthority: String { graph.authority ?? cloud.authority }
}

/// The reconcile loop's settings, and the planner's safety rules.
public struct ReconcileSettings: Sendable, Hashable {
    /// `enforce` applies changes; `report` detects and logs drift and changes nothing.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        case enforce, report
    }

    /// Time between cycles.
    public var interval: Duration
    /// Time between fast passes (Graph delta queries between full cycles); `.zero`: no fast path.
    public var fastInterval: Duration
    public var mode: Mode
    /// The SKUs Allot owns, by `skuPartNumber` or `skuId`. No other SKU is ever touched.
    public var managedSkus: [SkuReference]
    /// Set on users that need a license and have none; `nil` skips such users instead.
    public var defaultUsageLocation: String?
    public var guardrail: RemovalGuard
    /// A SKU is removed only after the user has been out of policy this long.
    public var removalDelay: Duration
    /// The organisation's monthly prices (`prices:` at the top of `allot.yaml`): what plans,
    /// `/status` and the metrics show cost with. They live here because every plan carries its
    /// cost; nothing is decided by them.
    public var prices: PriceList

    public init(
        interval: Duration = .seconds(15 * 60),
        fastInterval: Duration = .seconds(30),
        mode: Mode = .enforce,
        managedSkus: [SkuReference] = [],
        defaultUsageLocation: String? = nil,
        guardrail: RemovalGuard = RemovalGuard(),
        removalDelay: Duration = .zero,
        prices: PriceList = PriceList()
    ) {
        self.interval = interval
        self.fastInterval = fastInterval
        self.mode = mode
        self.managedSkus = managedSkus
        self.defaultUsageLocation = defaultUsageLocation
        self.guardrail = guardrail
        self.removalDelay = removalDelay
        self.prices = prices
    }
}

/// The mass-removal guard: a cycle that would remove more than either limit removes nothing;
/// and the group shrink hold: a referenced group that suddenly shrinks holds the removals it causes.
public struct RemovalGuard: Sendable, Hashable {
    public var maxRemovals: Int
    /// A percentage (0...100) of the managed licenses assigned.
    public var maxRemovalPercent: Double
    /// A percentage (0...100): a group of at least ``groupShrinkMinimumUsers`` users whose
    /// transitive user count drops by more than this since the last cycle has shrunk (so has any
    /// group that drops to zero).
    public var groupShrinkPercent: Double

    /// Groups smaller than this are held only when they drop to zero: a few users leaving a
    /// small group is ordinary churn.
    public static let groupShrinkMinimumUsers = 10

    public init(maxRemovals: Int = 50, maxRemovalPercent: Double = 5, groupShrinkPercent: Double = 50) {
        self.maxRemovals = maxRemovals
        self.maxRemovalPercent = maxRemovalPercent
        self.groupShrinkPercent = groupShrinkPercent
    }

    /// Whether a group read with `now` users after `before` in the last cycle has shrunk suddenly.
    public func isShrink(from before: Int, to now: Int) -> Bool {
        guard now < before else { return false }
        if now == 0 { return true }
        return before >= Self.groupShrinkMinimumUsers
            && Double(before - now) * 100 > groupShrinkPercent * Double(before)
    }
}
