import CastyICY
import CastyTree
import Logging
import NIOCore
import NIOEmbedded

@testable import CastyServer

/// A node's connection pipeline on `EmbeddedChannel`s: the request decoder and the router, as
/// `NodeServer` sets them up, over a hub on an `EmbeddedEventLoop`.
enum EmbeddedNode {
    /// Logs nothing.
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Sets up `channel` as the server sets up every connection, and connects it.
    static func serve(
        _ channel: EmbeddedChannel,
        hub: StreamHub,
        directory: PeerDirectory? = nil,
        hooks: PeerHooks = PeerHooks(),
        maxListeners: Int = 10,
        requestTimeout: TimeAmount = .seconds(10)
    ) throws {
        let services = ConnectionServices(
            hub: hub, directory: directory, info: NodeInfo(role: "mirror", name: "m1", upstreamURL: "http://root"),
            metrics: NodeMetrics(role: "mirror", name: "m1"), fleetNodes: nil, hooks: hooks, requestTimeout: requestTimeout,
            maxListeners: maxListeners
        )
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ICYRequestDecoder()))
        try channel.pipeline.syncOperations.addHandler(ConnectionRouter(services: services, logger: Self.quiet))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
    }

    /// Everything written to the client so far.
    static func received(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// Splits a reply into its head (without the blank line) and its body.
    static func split(_ bytes: [UInt8]) -> (head: String, body: [UInt8]) {
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else {
            return (String(decoding: bytes, as: UTF8.self), [])
        }
        return (String(decoding: bytes[..<end], as: UTF8.self), Array(bytes[(end + 4)...]))
    }
}
