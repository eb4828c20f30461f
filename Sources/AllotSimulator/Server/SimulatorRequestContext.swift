import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the connection, so that the
/// simulator can see who is calling (the control API answers loopback only) and can drop the
/// connection on purpose.
struct SimulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Request bodies up to 16 MB (a `$batch` of 20 large items fits).
    var maxUploadSize: Int { 16 * 1024 * 1024 }

    /// Whether the peer is on this machine.
    var isLoopbackPeer: Bool {
        switch channel.remoteAddress {
        case let .v4(address)?:
            return address.host.hasPrefix("127.")
        case let .v6(address)?:
            return address.host == "::1" || address.host.hasPrefix("::ffff:127.")
        case .unixDomainSocket?:
            return true
        case nil:
            return false
        }
    }
}
