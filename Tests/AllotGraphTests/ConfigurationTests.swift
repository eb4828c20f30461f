import AllotCore
import Logging
import Testing

@testable import AllotGraph

@Suite("Client configuration")
struct ConfigurationTests {
    @Test(
        "http:// is refused for a host that is not loopback",
        arguments: [
            "http://graph.microsoft.com/v1.0", "http://10.0.0.5:8080/v1.0", "http://128.0.0.1/v1.0",
        ]
    )
    func plainHTTPRefused(endpoint: String) {
        #expect {
            _ = try Endpoint(endpoint, setting: "graph.endpoint")
        } throws: { error in
            "\(error)".contains("graph.endpoint") && "\(error)".contains("not loopback")
        }
    }

    @Test(
        "http:// is accepted for loopback hosts",
        arguments: [
            "http://127.0.0.1:8080/v1.0", "http://localhost/v1.0", "http://[::1]:9000/v1.0", "http://127.4.5.6/",
        ]
    )
    func loopbackAccepted(endpoint: String) throws {
        let parsed = try Endpoint(endpoint, setting: "graph.endpoint")
        #expect(parsed.scheme == "http")
        #expect(!parsed.base.hasSuffix("/"))
    }

    @Test("a client for a non-loopback http:// endpoint is not created")
    func clientRefusesPlainHTTP() {
        let configuration = GraphClient.Configuration(
            tenant: "contoso.onmicrosoft.com",
            clientId: "c",
            credential: .managedIdentity(clientId: nil),
            graphEndpoint: "http://graph.example.com/v1.0"
        )
        #expect(throws: GraphConfigurationError.self) {
            _ = try GraphClient(configuration: configuration, logger: Logger(label: "test"))
        }
    }

    @Test("IMDS's link-local address may use http://; nothing else may")
    func imds() throws {
        _ = try Endpoint("http://169.254.169.254", setting: "imds", plainHTTPAllowed: [ManagedIdentitySource.imdsHost])
        #expect(throws: GraphConfigurationError.self) {
            _ = try Endpoint("http://169.254.169.254", setting: "graph.endpoint")
        }
    }

    @Test("nextLinks must keep the endpoint's origin")
    func sameOrigin() throws {
        let endpoint = try Endpoint("https://graph.microsoft.com/v1.0", setting: "graph.endpoint")
        #expect(endpoint.isSameOrigin(as: "https://graph.microsoft.com/v1.0/users?$skiptoken=x"))
        #expect(!endpoint.isSameOrigin(as: "https://evil.example/v1.0/users"))
        #expect(!endpoint.isSameOrigin(as: "http://graph.microsoft.com/v1.0/users"))
        #expect(!endpoint.isSameOrigin(as: "https://graph.microsoft.com:8443/v1.0/users"))
    }

    @Test("HTTPS_PROXY and NO_PROXY are read as curl reads them")
    func proxy() throws {
        let proxy = try #require(
            try ProxySettings.fromEnvironment([
                "HTTPS_PROXY": "http://user:p%40ss@proxy.corp:3128",
                "NO_PROXY": "login.microsoftonline.com, .internal:8443,10.1.2.3",
            ])
        )
        #expect(proxy.host == "proxy.corp")
        #expect(proxy.port == 3128)
        #expect(proxy.credentials == "user:p@ss")
        #expect(proxy.applies(toHost: "graph.microsoft.com"))
        #expect(!proxy.applies(toHost: "login.microsoftonline.com"))
        #expect(!proxy.applies(toHost: "api.internal"))
        #expect(!proxy.applies(toHost: "10.1.2.3"))
        #expect(!proxy.applies(toHost: "127.0.0.1"))
        #expect(!proxy.applies(toHost: "169.254.169.254"))
        #expect(try ProxySettings.fromEnvironment(["https_proxy": "proxy:8080"])?.port == 8080)
        #expect(try ProxySettings.fromEnvironment([:]) == nil)
        #expect(
            try ProxySettings.fromEnvironment(["HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"])?.applies(toHost: "x.com")
                == false
        )
        #expect(throws: GraphConfigurationError.self) {
            try ProxySettings.fromEnvironment(["HTTPS_PROXY": "http://proxy:port"])
        }
    }

    @Test("the configuration follows allot.yaml and the environment")
    func fromAllotConfiguration() throws {
        let allot = AllotConfiguration(
            tenant: "contoso.onmicrosoft.com",
            cloud: .usgov,
            graph: AllotConfiguration.GraphEndpoints(
                caFile: "/etc/allot/ca.pem",
                writeQuota: AllotConfiguration.WriteQuota(writes: 100, window: .seconds(10))
            ),
            auth: AllotConfiguration.Authentication(clientId: "app", credential: .clientSecretFile(nil))
        )
        let configuration = try GraphClient.Configuration(
            allot,
            environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/allot.service"]
        )
        #expect(configuration.graphEndpoint == "https://graph.microsoft.us/v1.0")
        #expect(configuration.authority == "https://login.microsoftonline.us")
        #expect(configuration.scope == "https://graph.microsoft.us/.default")
        #expect(configuration.credentialsDirectory == "/run/credentials/allot.service")
        #expect(configuration.caFile == "/etc/allot/ca.pem")
        #expect(configuration.writeQuota.writes == 100)
        #expect(configuration.proxy == nil)
        #expect(AllotConfiguration.Cloud.global.graphResource == "https://graph.microsoft.com/")
    }

    @Test("a token is refreshed 5 minutes before expiry, or at 80 % of a short lifetime")
    func refreshDelay() {
        #expect(CachingTokenProvider.refreshDelay(lifetime: .seconds(3599)) == .seconds(3299))
        #expect(CachingTokenProvider.refreshDelay(lifetime: .seconds(600)) == .seconds(480))
        #expect(CachingTokenProvider.refreshDelay(lifetime: .zero) == .zero)
    }

    @Test("query values are percent-encoded outside the unreserved set")
    func formEncoding() {
        #expect(
            FormEncoding.escape("displayName eq 'R&D ''Ops'''") == "displayName%20eq%20%27R%26D%20%27%27Ops%27%27%27"
        )
        #expect(
            FormEncoding.encode([("scope", "https://graph.microsoft.com/.default")])
                == "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        )
    }
}
