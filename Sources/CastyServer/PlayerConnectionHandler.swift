import CastyCore
import CastyICY
import Logging
import NIOCore

/// One player's connection once the ``ConnectionRouter`` found that it asks for the stream: the
/// reply head, the burst, then every segment from its loop's ``LoopFanout`` until it closes or
/// falls too far behind. What to do is decided by a ``PlayerConnectionStateMachine``; this
/// handler carries out its actions. Confined to its channel's event loop.
final class PlayerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ICYRequestHead
    typealias OutboundOut = ByteBuffer

    private let hub: StreamHub
    private let maxListeners: Int
    private let logger: Logger
    private var machine = PlayerConnectionStateMachine()
    private var channel: Channel?
    private var framer = PlayerFramer(metaint: nil)
    /// Whether the player has had no audio yet: its first byte must be where a listener may
    /// start (an MP3 or ADTS frame, an Ogg page after its chain's header pages), so segments
    /// without such a place are skipped until one comes.
    private var awaitingStart = true
    private var joinedAt: NIODeadline?

    init(hub: StreamHub, maxListeners: Int, logger: Logger) {
        self.hub = hub
        self.maxListeners = maxListeners
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.channel = context.channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let head = self.unwrapInboundIn(data)
        let action = self.machine.headReceived(
            method: head.method,
            wantsMetadata: head.wantsMetadata,
            listeners: self.hub.counters.listeners,
            maxListeners: self.hub.isDraining ? 0 : self.maxListeners
        )
        switch action {
        case .ignore:
            return  // players send nothing after their request
        case .refuseFull where self.hub.isDraining:
            self.logger.info("listener refused: this node is draining")
            PlainResponse(code: 503, body: "this node is leaving the fleet; try another\n").answer(context: context)
        case .refuseFull(let max):
            self.logger.warning("listener refused: node full", metadata: ["listeners.max": "\(max)"])
            PlainResponse(code: 503, body: "this node is full (\(max) listeners); try another\n").answer(context: context)
        case .join:
            let join = self.hub.join()
            switch self.machine.joined(format: join.format, nextSeq: join.nextSeq, playerMetaint: self.hub.configuration.playerMetaint) {
            case .writeHeadAndClose(let metaint):
                context.write(self.wrapOutboundOut(ReplyHead.player(context: join.context, metaint: metaint).buffer(allocator: context.channel.allocator)), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
            case .writeHeadAndStream(let metaint):
                context.write(self.wrapOutboundOut(ReplyHead.player(context: join.context, metaint: metaint).buffer(allocator: context.channel.allocator)), promise: nil)
                self.framer = PlayerFramer(metaint: metaint)
                self.joinedAt = .now()
                self.hub.counters.playerJoined()
                self.logger.info(
                    "listener joined",
                    metadata: ["listener.metadata": "\(metaint != nil)", "listener.agent": "\(head.headers.first(name: "user-agent") ?? "")"]
                )
                // The burst gets playback going at once; it starts where a listener may start (a
                // frame, or an Ogg page after its chain's header pages).
                let sent = self.write(join.burst)
                context.flush()
                self.machine.burstWritten(lastSeq: join.burst.last?.seq)
                sent.count(in: self.hub)
                self.hub.fanout(for: context.eventLoop).add(self)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.machine.channelInactive() {
        case .none:
            break
        case .leave:
            self.hub.fanout(for: context.eventLoop).remove(self)
            self.hub.counters.playerLeft()
            let seconds = self.joinedAt.map { (NIODeadline.now() - $0).nanoseconds / 1_000_000_000 } ?? 0
            self.logger.info("listener left", metadata: ["listener.seconds": "\(seconds)"])
        }
        context.fireChannelInactive()
    }

    // MARK: From the loop's fan-out

    /// Sends the segment if it is the one this player is owed next (catching up from `recent`
    /// if it missed some), then drops the player if its socket has fallen too far behind.
    /// Returns what it wrote, for the caller to count.
    func deliver(_ entry: StreamHub.Entry, recent: RecentSegments) -> Delivery {
        guard let channel = self.channel else { return Delivery() }
        switch self.machine.segment(entry.seq) {
        case .skip:
            return Delivery()
        case .write(let catchUpFrom):
            var sent = self.write(recent.catchUp(from: catchUpFrom, before: entry.seq))
            sent += self.write(CollectionOfOne(entry))
            channel.flush()
            switch self.machine.written(isWritable: channel.isWritable, maxLagBytes: self.hub.configuration.maxListenerLagBytes) {
            case .none:
                break
            case .dropTooSlow(let reason):
                self.hub.counters.droppedSlowListener()
                self.logger.warning("dropping listener", metadata: ["reason": "\(reason)"])
                channel.close(promise: nil)
            }
            return sent
        }
    }

    /// The stream changed identity: take the next segment whatever its number.
    func streamChanged() {
        self.machine.streamChanged()
    }

    /// The stream's format is now `format`: closes the player if it was announced another one
    /// (its decoder cannot follow).
    func formatChanged(to format: StreamFormat) {
        switch self.machine.formatChanged(to: format) {
        case .none:
            break
        case .close(let reason):
            self.logger.info("closing listener", metadata: ["reason": "\(reason)"])
            self.channel?.close(promise: nil)
        }
    }

    /// Closes the connection (the node shuts down).
    func close() -> EventLoopFuture<Void> {
        guard let channel = self.channel else { preconditionFailure("a player in a fan-out has a channel") }
        return channel.close()
    }

    /// Writes segments, framed for this player; the caller flushes. The one path for the burst,
    /// a catch-up and each new segment.
    private func write(_ entries: some Sequence<StreamHub.Entry>) -> Delivery {
        var sent = Delivery()
        guard let channel = self.channel else { return sent }
        for entry in entries {
            var audio = entry.numbered.segment.audio
            if self.awaitingStart {
                guard let start = entry.start else { continue }
                self.awaitingStart = false
                audio.moveReaderIndex(forwardBy: start.offset)
                if let prefix = start.prefix {
                    // An Ogg chain's header pages; Ogg players get no ICY metadata, so no framing.
                    channel.write(prefix, promise: nil)
                }
            }
            self.framer.frame(audio, title: entry.title) { buffer in
                sent.bytes += buffer.readableBytes
                channel.write(buffer, promise: nil)
            }
            sent.segments += 1
        }
        return sent
    }
}
