import CastyHandover
import CastyICY
import CastyMedia
import Foundation
import CastyTree
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
    /// The node's directory, which says whether the node drains (`nil`: a node without a fleet).
    private let directory: PeerDirectory?
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
    /// What was given to the channel lately: at a hand-over, the bytes it has not written yet.
    private var tail: WrittenTail
    /// Bytes to write first once activated (a player taken over from another process).
    private var resumeWith: ByteBuffer?
    /// Handed to another process: this one no longer serves the socket.
    private var handedOver = false

    init(hub: StreamHub, directory: PeerDirectory?, maxListeners: Int, logger: Logger) {
        self.hub = hub
        self.directory = directory
        self.maxListeners = maxListeners
        self.logger = logger
        self.tail = WrittenTail(capacity: 2 * hub.configuration.maxListenerLagBytes)
    }

    /// A player taken over from another process (a hand-over): streaming where `state` says,
    /// after `unwritten`, once ``activate()`` is called.
    init(hub: StreamHub, directory: PeerDirectory?, maxListeners: Int, logger: Logger, resuming state: HandoverState.Player, unwritten: ByteBuffer) {
        self.hub = hub
        self.directory = directory
        self.maxListeners = maxListeners
        self.logger = logger
        self.tail = WrittenTail(capacity: 2 * hub.configuration.maxListenerLagBytes)
        self.machine = PlayerConnectionStateMachine(resumingAt: state.nextSeq, format: StreamFormat(rawValue: state.format) ?? .mp3)
        self.framer = PlayerFramer(metaint: state.metaint, untilMetadata: state.untilMetadata, sentTitle: state.sentTitle.map { ByteBuffer(bytes: $0) })
        self.awaitingStart = state.awaitingStart
        self.resumeWith = unwritten
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.channel = context.channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let head = self.unwrapInboundIn(data)
        // A node removed from the fleet drains: new players are refused, those listening stay.
        let draining = self.directory?.isDraining ?? false
        let action = self.machine.headReceived(
            method: head.method,
            wantsMetadata: head.wantsMetadata,
            listeners: self.hub.counters.listeners,
            maxListeners: draining ? 0 : self.maxListeners
        )
        switch action {
        case .ignore:
            return  // players send nothing after their request
        case .refuseFull where draining:
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
                self.give(ReplyHead.player(context: join.context, metaint: metaint).buffer(allocator: context.channel.allocator), to: context.channel)
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
        if self.handedOver || self.resumeWith != nil {
            // Another process serves the socket now, or it closed before this one served it.
            context.fireChannelInactive()
            return
        }
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

    // MARK: Hand-over

    /// Starts serving a player taken over from another process: its unwritten bytes first, then
    /// every segment from its loop's fan-out. Runs on the channel's loop.
    func activate() {
        guard let channel = self.channel, let unwritten = self.resumeWith else { return }
        self.resumeWith = nil
        guard channel.isActive else { return }
        if unwritten.readableBytes > 0 { self.give(unwritten, to: channel) }
        channel.flush()
        self.joinedAt = .now()
        self.hub.counters.playerJoined()
        self.hub.fanout(for: channel.eventLoop).add(self)
    }

    /// Hands the player over: its socket (a duplicate of the descriptor, found in `sockets`) and
    /// where it stands, or nil when it cannot be (not streaming, or more unwritten bytes than
    /// kept). It leaves the fan-out and its channel is closed without a word to the player: the
    /// socket lives on in the duplicate. Runs on the channel's loop.
    func handOver(sockets: OpenSockets) -> (descriptor: CInt, state: HandoverState.Connection)? {
        guard let channel = self.channel, let format = self.machine.format, let (copy, unwritten) = self.tail.handOver(channel, sockets: sockets) else {
            return nil
        }
        self.handedOver = true
        self.hub.fanout(for: channel.eventLoop).remove(self)
        self.hub.counters.playerLeft()
        channel.close(promise: nil)
        let state = HandoverState.Player(
            nextSeq: self.machine.nextSeq, format: format.rawValue, metaint: self.framer.metaint, untilMetadata: self.framer.untilMetadata,
            sentTitle: self.framer.sentTitle.map { Data($0.readableBytesView) }, awaitingStart: self.awaitingStart
        )
        return (copy, HandoverState.Connection(unwritten: unwritten, player: state))
    }

    /// Gives `buffer` to the channel, noting it in the tail; the caller flushes.
    private func give(_ buffer: ByteBuffer, to channel: Channel) {
        channel.write(buffer, promise: nil)
        self.tail.append(buffer, writtenTo: channel)
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
                    self.give(prefix, to: channel)
                }
            }
            self.framer.frame(audio, title: entry.title) { buffer in
                sent.bytes += buffer.readableBytes
                self.give(buffer, to: channel)
            }
            sent.segments += 1
        }
        return sent
    }
}
