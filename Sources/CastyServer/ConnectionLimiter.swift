import NIOConcurrencyHelpers
import NIOCore

/// Counts open connections per remote address and refuses those past the limit, so that one
/// address cannot exhaust a node's sockets. Loopback addresses are exempt unless `limitLoopback`
/// (local load generators and tests use thousands of them).
final class ConnectionLimiter: Sendable {
    let maxPerAddress: Int
    let limitLoopback: Bool
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    init(maxPerAddress: Int, limitLoopback: Bool = false) {
        self.maxPerAddress = maxPerAddress
        self.limitLoopback = limitLoopback
    }

    /// The key counted for `address`, or nil when it is not limited.
    func key(for address: SocketAddress?) -> String? {
        guard let ip = address?.ipAddress else { return nil }
        if !self.limitLoopback, ip.hasPrefix("127.") || ip == "::1" { return nil }
        return ip
    }

    /// Takes a slot for `key`; false when the address already has `maxPerAddress` connections.
    func admit(_ key: String) -> Bool {
        self.counts.withLockedValue { counts in
            let count = counts[key, default: 0]
            guard count < self.maxPerAddress else { return false }
            counts[key] = count + 1
            return true
        }
    }

    func release(_ key: String) {
        self.counts.withLockedValue { counts in
            let count = (counts[key] ?? 1) - 1
            counts[key] = count > 0 ? count : nil
        }
    }
}

/// First in every connection's pipeline: closes connections past the per-address limit.
final class ConnectionLimitHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let limiter: ConnectionLimiter
    private var key: String?

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    func channelActive(context: ChannelHandlerContext) {
        if let key = self.limiter.key(for: context.remoteAddress) {
            guard self.limiter.admit(key) else {
                context.close(promise: nil)
                return
            }
            self.key = key
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let key = self.key {
            self.limiter.release(key)
            self.key = nil
        }
        context.fireChannelInactive()
    }
}
