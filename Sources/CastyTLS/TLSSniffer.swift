import NIOCore
import NIOSSL

/// The first handler of a connection on a port that speaks TLS: it looks at the connection's
/// first byte and steps aside. A TLS handshake (a record of type 22, 0x16) gets a TLS handler,
/// with the context new handshakes use now, in its place, and what follows in the pipeline
/// reads plain bytes as from any connection; other bytes go on as they are (http on the same
/// port), unless the port speaks https only, where they get a short `400` and the connection
/// closes.
public final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// A TLS record of type handshake starts with this byte.
    static let handshakeRecord: UInt8 = 0x16

    private let store: TLSCertificateStore

    /// A sniffer for a port whose identity and mode are in `store`.
    public init(store: TLSCertificateStore) {
        self.store = store
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let first = self.unwrapInboundIn(data).readableBytesView.first else { return }
        if first == Self.handshakeRecord {
            do {
                let tls = NIOSSLServerHandler(context: self.store.context)
                try context.pipeline.syncOperations.addHandler(tls, position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        } else if self.store.mode == .only {
            let body = "this port speaks https only: use an https:// address\n"
            let response = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Whether the connection whose pipeline this is speaks TLS (a hand-over cannot move its
    /// session to another process).
    public static func isEncrypted(_ pipeline: ChannelPipeline.SynchronousOperations) -> Bool {
        (try? pipeline.handler(type: NIOSSLServerHandler.self)) != nil
    }
}
