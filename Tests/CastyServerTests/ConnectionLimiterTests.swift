@testable import CastyServer
import NIOCore
import Testing

@Suite struct ConnectionLimiterTests {
    @Test func refusesPastTheLimitPerAddressAndFreesOnRelease() throws {
        let limiter = ConnectionLimiter(maxPerAddress: 2)
        let key = try #require(limiter.key(for: try SocketAddress(ipAddress: "192.0.2.7", port: 5000)))
        #expect(limiter.admit(key))
        #expect(limiter.admit(key))
        #expect(!limiter.admit(key), "a third connection from one address is refused")
        #expect(limiter.admit(try #require(limiter.key(for: try SocketAddress(ipAddress: "192.0.2.8", port: 5000)))))
        limiter.release(key)
        #expect(limiter.admit(key))
    }

    @Test func exemptsLoopbackUnlessAsked() throws {
        #expect(ConnectionLimiter(maxPerAddress: 1).key(for: try SocketAddress(ipAddress: "127.0.0.1", port: 1)) == nil)
        #expect(ConnectionLimiter(maxPerAddress: 1, limitLoopback: true).key(for: try SocketAddress(ipAddress: "127.0.0.1", port: 1)) == "127.0.0.1")
    }
}
