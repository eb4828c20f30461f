import HummingbirdCore
import Logging
import NIOCore

/// Wraps a server child channel so every accepted socket has `TCP_NODELAY` set: small
/// responses (a token, a batch answer) leave at once instead of waiting for Nagle's algorithm.
struct NoDelayChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1).flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
