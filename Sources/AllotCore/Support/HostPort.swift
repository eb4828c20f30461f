/// A listen address, `host:port` or `[v6-address]:port` with a port from 0 to 65535: the one
/// grammar of `status.listen` and `allot simulate --listen`.
public struct HostPort: Sendable, Hashable {
    /// The host without brackets: `127.0.0.1`, `localhost`, `::1`.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `nil` when `text` is not `host:port` (no port, a port out of range, an empty host, an
    /// unbracketed IPv6 address, whitespace or a slash in the host).
    public init?(parsing text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].first == ":" else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return nil }
        guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port), number <= 65_535
        else { return nil }
        self.init(host: String(host), port: number)
    }
}

extension HostPort: CustomStringConvertible {
    /// `host:port`, the host in brackets when it is an IPv6 address.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
