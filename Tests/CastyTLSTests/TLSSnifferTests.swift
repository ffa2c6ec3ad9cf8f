import CastyTLS
import CastyTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// One loopback port that answers http and https, told apart by the first byte; https only when
/// so configured; a reload that new handshakes see and open connections do not.
@Suite struct TLSSnifferTests {
    /// Answers every read with "plain" or "tls" and what it read, then keeps the connection open.
    final class Answer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let read = String(buffer: self.unwrapInboundIn(data))
            let kind = TLSSniffer.isEncrypted(context.pipeline.syncOperations) ? "tls" : "plain"
            context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(string: "\(kind):\(read)")), promise: nil)
        }
    }

    /// Collects what the server sends.
    final class Collect: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: self.unwrapInboundIn(data))
            self.received.withLockedValue { $0 += text }
        }
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let ca: TestCertificateAuthority

    init() throws {
        self.ca = try TestCertificateAuthority()
    }

    func serve(_ store: TLSCertificateStore) async throws -> Channel {
        try await ServerBootstrap(group: self.group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSSniffer(store: store))
                    try channel.pipeline.syncOperations.addHandler(Answer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func connect(to server: Channel, tls: Bool) async throws -> (Channel, Collect) {
        let collect = Collect()
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(self.ca.rootCertificate)
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: self.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost")) }
                    try channel.pipeline.syncOperations.addHandler(collect)
                }
            }
            .connect(to: server.localAddress!).get()
        return (channel, collect)
    }

    func ask(_ channel: Channel, _ collect: Collect, _ text: String) async throws -> String {
        let before = collect.received.withLockedValue { $0.count }
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
        try await eventually("an answer to \(text)") { collect.received.withLockedValue { $0.count } > before }
        return collect.received.withLockedValue { String($0.dropFirst(before)) }
    }

    func peerSerial(_ channel: Channel) async throws -> String? {
        let certificate = try await channel.nioSSL_peerCertificate().get()
        return certificate.map { $0.serialNumber.map { String($0, radix: 16) }.joined() }
    }

    @Test func onePortAnswersHTTPAndHTTPS() async throws {
        defer { self.ca.remove() }
        let issued = try self.ca.issue("node", serial: 0xAB)
        let server = try await self.serve(try TLSCertificateStore(files: TLSFiles(cert: issued.fullchain, key: issued.key)))
        let (plain, plainReplies) = try await self.connect(to: server, tls: false)
        #expect(try await self.ask(plain, plainReplies, "GET / HTTP/1.0") == "plain:GET / HTTP/1.0")
        let (secure, secureReplies) = try await self.connect(to: server, tls: true)
        #expect(try await self.ask(secure, secureReplies, "GET / HTTP/1.0") == "tls:GET / HTTP/1.0")
        #expect(try await self.peerSerial(secure) == "ab")
        try await plain.close()
        try await secure.close()
        try await server.close()
        try await self.group.shutdownGracefully()
    }

    @Test func anHTTPSOnlyPortTellsAPlainClientWhy() async throws {
        defer { self.ca.remove() }
        let issued = try self.ca.issue("node", serial: 0xAB)
        let server = try await self.serve(try TLSCertificateStore(files: TLSFiles(cert: issued.fullchain, key: issued.key), mode: .only))
        let (plain, replies) = try await self.connect(to: server, tls: false)
        try await plain.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n")).get()
        try await eventually("the server to close the plain connection") { !plain.isActive }
        let answer = replies.received.withLockedValue { $0 }
        #expect(answer.hasPrefix("HTTP/1.0 400 Bad Request\r\n"))
        #expect(answer.hasSuffix("this port speaks https only: use an https:// address\n"))
        let (secure, secureReplies) = try await self.connect(to: server, tls: true)
        #expect(try await self.ask(secure, secureReplies, "GET") == "tls:GET")
        try await secure.close()
        try await server.close()
        try await self.group.shutdownGracefully()
    }

    @Test func aReloadReachesNewHandshakesAndLeavesOpenConnectionsAlone() async throws {
        defer { self.ca.remove() }
        let first = try self.ca.issue("first", serial: 0x1111)
        let second = try self.ca.issue("second", serial: 0x2222)
        let files = TLSFiles(cert: self.ca.folder.appendingPathComponent("live-fullchain.pem").path, key: self.ca.folder.appendingPathComponent("live.key").path)
        func install(_ issued: TestCertificateAuthority.Issued) throws {
            for (from, to) in [(issued.fullchain, files.cert), (issued.key, files.key)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
        try install(first)
        let store = try TLSCertificateStore(files: files)
        let server = try await self.serve(store)
        let (old, oldReplies) = try await self.connect(to: server, tls: true)
        #expect(try await self.ask(old, oldReplies, "before") == "tls:before")
        #expect(try await self.peerSerial(old) == "1111")

        try install(second)
        #expect(try store.reload().get().serial == "2222")
        let (new, newReplies) = try await self.connect(to: server, tls: true)
        #expect(try await self.ask(new, newReplies, "new") == "tls:new")
        #expect(try await self.peerSerial(new) == "2222")
        #expect(try await self.ask(old, oldReplies, "after") == "tls:after", "the open connection goes on untouched")

        try await old.close()
        try await new.close()
        try await server.close()
        try await self.group.shutdownGracefully()
    }
}
