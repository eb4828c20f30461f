/// Whether `host` names this machine only: `localhost` (and `*.localhost`), 127.0.0.0/8 or
/// `::1`. Decides where plain `http://` is allowed, which hosts bypass a proxy, and which
/// listen addresses need no warning.
public func isLoopbackHost(_ host: String) -> Bool {
    let lowered = host.lowercased()
    if lowered == "localhost" || lowered.hasSuffix(".localhost") || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" {
        return true
    }
    let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
    guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
    return octets[0] == "127"
}
