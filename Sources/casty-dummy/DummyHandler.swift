import CastyICY
import CastyPeerProtocol
import NIOConcurrencyHelpers
import NIOCore

/// One dummy connection: reads the reply head, then frames (peer observer) or ICY segments
/// (player), and keeps a tally.
final class DummyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    enum Mode { case peer, player }

    private let mode: Mode
    private let request: String
    private let tally: NIOLockedValueBox<DummyTally>
    private var headDecoder = ICYResponseHeadDecoder()
    private var pending = ByteBuffer()
    private var frames: NIOSingleStepByteToMessageProcessor<PeerFrameDecoder>?
    private var segments: NIOSingleStepByteToMessageProcessor<ICYSegmentDecoder>?

    init(mode: Mode, request: String, tally: NIOLockedValueBox<DummyTally>) {
        self.mode = mode
        self.request = request
        self.tally = tally
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: self.request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        do {
            try self.consume(buffer)
        } catch {
            self.fail(context: context, "\(error)")
        }
    }

    private func consume(_ buffer: ByteBuffer) throws {
        do {
            if let frames = self.frames {
                try frames.process(buffer: buffer) { frame in
                    if case .data(let seq, let segment) = frame {
                        self.tally.withLockedValue {
                            $0.record(seq: seq)
                            $0.audioBytes += segment.audio.readableBytes
                        }
                    }
                }
            } else if let segments = self.segments {
                try segments.process(buffer: buffer) { segment in
                    self.tally.withLockedValue {
                        $0.received += 1
                        $0.metadataBlocks += 1
                        $0.audioBytes += segment.audio.readableBytes
                    }
                }
            } else {
                var incoming = buffer
                self.pending.writeBuffer(&incoming)
                guard let head = try self.headDecoder.decode(buffer: &self.pending) else { return }
                try self.start(after: head)
                // Bytes that came with the head belong to the body.
                let rest = self.pending
                self.pending = ByteBuffer()
                if rest.readableBytes > 0 { try self.consume(rest) }
            }
        }
    }

    private func start(after head: ICYResponseHead) throws {
        guard head.status.code == 200 else { throw PeerProtocolError("node answered '\(head.status)'") }
        self.tally.withLockedValue { $0.connected = true }
        switch self.mode {
        case .peer:
            self.frames = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        case .player:
            let metaint = try head.metaint() ?? 16_000
            self.segments = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: .metadata(interval: metaint)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.tally.withLockedValue { if $0.error == nil { $0.error = "connection closed by the node" } }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.fail(context: context, "\(error)")
    }

    private func fail(context: ChannelHandlerContext, _ message: String) {
        self.tally.withLockedValue { if $0.error == nil { $0.error = message } }
        context.close(promise: nil)
    }
}
