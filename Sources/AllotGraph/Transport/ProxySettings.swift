import AllotCore
import Foundation

/// The HTTPS proxy Allot goes through, from `HTTPS_PROXY` and `NO_PROXY` (either case), as
/// curl and most tools read them.
///
/// Loopback hosts never go through the proxy, and neither does IMDS (Azure documents that it
/// must not be proxied). A `NO_PROXY` entry is `*` (everything), a host or domain (`contoso.com`
/// and `.contoso.com` both match the domain and its subdomains) or an IP address; ports are
/// ignored.
public struct ProxySettings: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// `user:password` from the proxy URL, sent as basic authorization.
    public var credentials: String?
    public var noProxy: [String]

    public init(host: String, port: Int, credentials: String? = nil, noProxy: [String] = []) {
        self.host = host
        self.port = port
        self.credentials = credentials
        self.noProxy = noProxy
    }

    /// The proxy the environment names, or `nil` when none is set.
    /// - Throws: ``GraphConfigurationError`` when `HTTPS_PROXY` is not a URL.
    public static func fromEnvironment(
        _ environment: [String: String]
    ) throws(GraphConfigurationError) -> ProxySettings? {
        guard let raw = environment["HTTPS_PROXY"] ?? environment["https_proxy"], !raw.isEmpty else { return nil }
        let text = raw.contains("://") ? raw : "http://\(raw)"
        guard let schemeEnd = text.range(of: "://") else { return nil }
        var rest = text[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var credentials: String?
        if let at = rest.lastIndex(of: "@") {
            credentials = String(rest[..<at]).removingPercentEncodingIfPossible
            rest = rest[rest.index(after: at)...]
        }
        var host = Substring(rest)
        var port = 80
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            guard let parsed = Int(host[host.index(after: colon)...]) else {
                throw GraphConfigurationError("HTTPS_PROXY '\(raw)' has no valid port; expected http://HOST:PORT")
            }
            port = parsed
            host = host[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else {
            throw GraphConfigurationError("HTTPS_PROXY '\(raw)' has no host; expected http://HOST:PORT")
        }
        let noProxy = (environment["NO_PROXY"] ?? environment["no_proxy"] ?? "")
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
        return ProxySettings(host: String(host), port: port, credentials: credentials, noProxy: noProxy)
    }

    /// Whether requests to `host` go through this proxy.
    public func applies(toHost host: String) -> Bool {
        let host = host.lowercased()
        if isLoopbackHost(host) || host == ManagedIdentitySource.imdsHost { return false }
        for entry in noProxy {
            if entry == "*" { return false }
            var pattern = Substring(entry)
            if let colon = pattern.lastIndex(of: ":"), !pattern.contains("]"), pattern.filter({ $0 == ":" }).count == 1
            {
                pattern = pattern[..<colon]
            }
            if pattern.hasPrefix("*.") {
                pattern = pattern.dropFirst(2)
            } else if pattern.hasPrefix(".") {
                pattern = pattern.dropFirst()
            }
            if host == pattern || host.hasSuffix("." + pattern) { return false }
        }
        return true
    }
}

extension String {
    fileprivate var removingPercentEncodingIfPossible: String { removingPercentEncoding ?? self }
}
