import AllotCore
import Foundation

/// A parsed base address (Graph, the authority, IMDS): scheme, host, port and path prefix.
struct Endpoint: Sendable, Hashable {
    let scheme: String
    let host: String
    let port: Int
    /// The path prefix without a trailing slash (`/v1.0`, or empty).
    let path: String

    /// The address to which relative paths are appended, e.g. `https://graph.microsoft.com/v1.0`.
    var base: String {
        let defaultPort = scheme == "https" ? 443 : 80
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? "\(scheme)://\(hostPart)\(path)" : "\(scheme)://\(hostPart):\(port)\(path)"
    }

    /// Parses and checks an endpoint: `https://` always, `http://` only for loopback hosts
    /// (or for the hosts in `plainHTTPAllowed`, i.e. IMDS's link-local address).
    /// - Parameter setting: the configuration key named in errors (`graph.endpoint`).
    init(_ text: String, setting: String, plainHTTPAllowed: Set<String> = []) throws(GraphConfigurationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw GraphConfigurationError(
                "\(setting) '\(text)' is not an absolute URL such as https://graph.microsoft.com/v1.0"
            )
        }
        guard scheme == "https" || scheme == "http" else {
            throw GraphConfigurationError("\(setting) '\(text)' must use https://")
        }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if scheme == "http", !isLoopbackHost(bareHost), !plainHTTPAllowed.contains(bareHost) {
            throw GraphConfigurationError(
                "\(setting) '\(text)' uses http:// for a host that is not loopback; "
                    + "use https:// (plain HTTP is accepted only for 127.0.0.0/8, ::1 and localhost, e.g. the built-in simulator)"
            )
        }
        guard components.query == nil, components.fragment == nil else {
            throw GraphConfigurationError("\(setting) '\(text)' must not carry a query or fragment")
        }
        self.scheme = scheme
        self.host = bareHost
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        self.path = path
    }

    /// Whether an absolute URL points at this endpoint's scheme, host and port (a `nextLink`
    /// elsewhere must never receive Allot's token).
    func isSameOrigin(as url: String) -> Bool {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            var host = components.host
        else { return false }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return scheme == self.scheme && host.lowercased() == self.host.lowercased() && port == self.port
    }
}

/// A configuration problem found when the client is created: names the setting and what to do.
public struct GraphConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}
