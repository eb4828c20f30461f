import AllotCore
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL

/// The Microsoft Graph client: authenticates with one of the four credential modes, reads
/// the tenant into a ``TenantModel`` and applies license changes through paced `$batch` writes.
///
/// One `GraphClient` owns one `HTTPClient` (two only when `NO_PROXY` exempts some endpoints
/// and not others). Call ``shutdown()`` when done, or use
/// ``withGraphClient(configuration:logger:tokenProvider:_:)``, which does it for you.
///
/// ```swift
/// let configuration = try GraphClient.Configuration(allotConfiguration)
/// let model = try await GraphClient.withGraphClient(configuration: configuration, logger: logger) { client in
///     try await client.readTenant(attributes: ["department"], groups: ["Engineering"])
/// }
/// ```
public final class GraphClient: Sendable {
    public let configuration: Configuration
    let graph: Endpoint
    let authority: Endpoint
    let transport: Transport
    let executor: RequestExecutor
    let tokens: any TokenProvider
    let logger: Logger
    let userAgent: String
    /// One write budget for every `apply`: Graph counts the quota per application and tenant.
    let writePacing: WritePacing

    /// Creates a client; nothing is sent until the first read or write.
    /// - Parameter tokenProvider: overrides the provider the configuration's credential implies.
    /// - Throws: ``GraphConfigurationError`` naming the setting that is wrong (an `http://`
    ///   endpoint that is not loopback, an unreadable `caFile`, a bad `HTTPS_PROXY`).
    public init(configuration: Configuration, logger: Logger, tokenProvider: (any TokenProvider)? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        userAgent = "allot/\(AllotVersion.current)"
        writePacing = WritePacing(
            budget: WriteBudget(
                writes: configuration.writeQuota.writes,
                window: configuration.writeQuota.window,
                headroom: configuration.writeHeadroom
            )
        )
        graph = try Endpoint(configuration.graphEndpoint, setting: "graph.endpoint")
        authority = try Endpoint(configuration.authority, setting: "graph.authority")
        var hosts = [graph.host, authority.host]
        var identityEndpoint: Endpoint?
        if case .managedIdentity = configuration.credential {
            let endpoint = try Endpoint(
                configuration.managedIdentityEndpoint,
                setting: "the managed identity endpoint",
                plainHTTPAllowed: [ManagedIdentitySource.imdsHost]
            )
            identityEndpoint = endpoint
            hosts.append(endpoint.host)
        }
        let transport = try Transport(configuration: configuration, hosts: hosts)
        let executor = RequestExecutor(
            transport: transport,
            userAgent: userAgent,
            retry: configuration.retry,
            timeout: configuration.timeout,
            maxResponseBytes: configuration.maxResponseBytes,
            logger: logger
        )
        self.transport = transport
        self.executor = executor
        if let tokenProvider {
            tokens = tokenProvider
        } else {
            do {
                let source: any TokenSource
                switch configuration.credential {
                case .managedIdentity(let clientId):
                    source = ManagedIdentitySource(
                        endpoint: identityEndpoint!,
                        clientId: clientId,
                        resource: configuration.resource,
                        executor: executor
                    )
                case .clientSecretFile, .certificate, .federatedTokenFile:
                    source = try ClientCredentialsSource(
                        configuration: configuration,
                        authority: authority,
                        executor: executor
                    )
                }
                tokens = CachingTokenProvider(source: source, now: configuration.tokenClock)
            } catch {
                transport.shutdownBeforeUse()
                throw error
            }
        }
    }

    /// Supplies the bearer token for Graph requests.
    var authorizer: RequestExecutor.Authorizer {
        { [tokens] rejected in try await tokens.token(rejecting: rejected) }
    }

    /// Shuts the HTTP connections down. Call once, after the last request.
    public func shutdown() async throws {
        try await transport.shutdown()
    }

    /// Runs `body` with a new client and shuts it down afterwards, whether `body` throws or not.
    public static func withGraphClient<Result: Sendable>(
        configuration: Configuration,
        logger: Logger,
        tokenProvider: (any TokenProvider)? = nil,
        _ body: (GraphClient) async throws -> Result
    ) async throws -> Result {
        let client = try GraphClient(configuration: configuration, logger: logger, tokenProvider: tokenProvider)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return result
    }
}

/// The HTTP client(s) of one ``GraphClient``: one normally, two when a proxy applies to some
/// endpoints and `NO_PROXY` exempts others.
struct Transport: Sendable {
    let proxy: ProxySettings?
    private let proxied: HTTPClient?
    private let direct: HTTPClient?

    init(configuration: GraphClient.Configuration, hosts: [String]) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let caFile = configuration.caFile {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !certificates.isEmpty else {
                    throw GraphConfigurationError("graph.caFile '\(caFile)' holds no PEM certificate")
                }
                tls.additionalTrustRoots = [.certificates(certificates)]
            } catch let error as GraphConfigurationError {
                throw error
            } catch {
                throw GraphConfigurationError(
                    "graph.caFile '\(caFile)' could not be read as PEM certificates (\(error)); "
                        + "point it at a readable file of -----BEGIN CERTIFICATE----- blocks"
                )
            }
        }
        proxy = configuration.proxy
        let proxiedHosts = hosts.filter { configuration.proxy?.applies(toHost: $0) ?? false }
        func makeClient(proxy: ProxySettings?) -> HTTPClient {
            var settings = HTTPClient.Configuration(
                tlsConfiguration: tls,
                redirectConfiguration: .disallow,
                timeout: HTTPClient.Configuration.Timeout(
                    connect: .nanoseconds(configuration.timeout.connect.nanosecondsClamped),
                    read: .nanoseconds(configuration.timeout.read.nanosecondsClamped)
                ),
                proxy: proxy.map { proxy in
                    .server(
                        host: proxy.host,
                        port: proxy.port,
                        authorization: proxy.credentials.map { credentials in
                            let parts = credentials.split(separator: ":", maxSplits: 1)
                            return .basic(username: String(parts[0]), password: parts.count > 1 ? String(parts[1]) : "")
                        }
                    )
                },
                ignoreUncleanSSLShutdown: false,
                decompression: .disabled
            )
            settings.connectionPool = HTTPClient.Configuration.ConnectionPool(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: max(
                    configuration.concurrency.reads,
                    configuration.concurrency.writeBatches,
                    2
                )
            )
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
        }
        proxied = proxiedHosts.isEmpty ? nil : makeClient(proxy: configuration.proxy)
        direct = proxiedHosts.count == hosts.count ? nil : makeClient(proxy: nil)
    }

    /// The client that reaches `host`: through the proxy, unless it is exempt.
    func client(for host: String) -> HTTPClient {
        if let proxied, proxy?.applies(toHost: host) ?? false { return proxied }
        return direct ?? proxied!
    }

    func shutdown() async throws {
        try await proxied?.shutdown()
        try await direct?.shutdown()
    }

    /// Shuts down from synchronous code, when the client could not be completed.
    func shutdownBeforeUse() {
        try? proxied?.syncShutdown()
        try? direct?.syncShutdown()
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64`.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
