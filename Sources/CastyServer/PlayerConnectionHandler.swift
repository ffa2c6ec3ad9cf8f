import CastyHandover
import CastyICY
import CastyMedia
import Foundation
import CastyTree
import Logging
import NIOCore

/// One player's connection once the ``ConnectionRouter`` found that it asks for the stream: the
/// reply head, the burst, then every segment from its loop's ``LoopFanout`` until it closes or
/// falls too far behind. Only moves bytes: every piece of the connection's state is its
/// ``PlayerConnectionStateMachine``'s, and this handler carries out its actions. Confined to its
/// channel's event loop.
final class PlayerConnectionHandler: ChannelInboundHandler, StreamingConnectionHandler {
    typealias InboundIn = ICYRequestHead
    typealias OutboundOut = ByteBuffer

    private let hub: StreamHub
    /// The node's directory, which says whether the node drains (`nil`: a node without a fleet).
    private let directory: PeerDirectory?
    private let maxListeners: Int
    private let logger: Logger
    private var machine: PlayerConnectionStateMachine
    private var channel: Channel?

    var life: StreamingConnectionState {
        get { self.machine.life }
        set { self.machine.life = newValue }
        _modify { yield &self.machine.life }
    }

    init(hub: StreamHub, directory: PeerDirectory?, maxListeners: Int, logger: Logger) {
        self.hub = hub
        self.directory = directory
        self.maxListeners = maxListeners
        self.logger = logger
        self.machine = PlayerConnectionStateMachine(tailCapacity: 2 * hub.configuration.maxListenerLagBytes)
    }

    /// A player taken over from another process (a hand-over): streaming where `state` says,
    /// after `unwritten`, once ``activate()`` is called.
    init(hub: StreamHub, directory: PeerDirectory?, maxListeners: Int, logger: Logger, resuming state: HandoverState.Player, unwritten: ByteBuffer) {
        self.hub = hub
        self.directory = directory
        self.maxListeners = maxListeners
        self.logger = logger
        self.machine = PlayerConnectionStateMachine(resuming: state, unwritten: unwritten, tailCapacity: 2 * hub.configuration.maxListenerLagBytes)
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
            let metaint = self.hub.configuration.playerMetaint
            switch self.machine.joined(format: join.format, nextSeq: join.nextSeq, playerMetaint: metaint, now: .now()) {
            case .writeHeadAndClose(let metaint):
                context.write(self.wrapOutboundOut(ReplyHead.player(context: join.context, metaint: metaint).buffer(allocator: context.channel.allocator)), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
            case .writeHeadAndStream(let metaint):
                self.give(ReplyHead.player(context: join.context, metaint: metaint).buffer(allocator: context.channel.allocator), to: context.channel)
                self.logger.info(
                    "listener joined",
                    metadata: ["listener.metadata": "\(metaint != nil)", "listener.agent": "\(head.headers.first(name: "user-agent") ?? "")"]
                )
                // The burst gets playback going at once; it starts where a listener may start (a
                // frame, or an Ogg page after its chain's header pages).
                let sent = self.write(join.burst, to: context.channel)
                self.flush(context.channel)
                self.machine.burstWritten(lastSeq: join.burst.last?.seq)
                self.hub.attach(self, on: context.eventLoop, burst: sent)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.machine.channelInactive(now: .now()) {
        case .none:
            break
        case .leave(let seconds):
            self.hub.detach(self, on: context.eventLoop)
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
            var sent = self.write(recent.catchUp(from: catchUpFrom, before: entry.seq), to: channel)
            sent += self.write(CollectionOfOne(entry), to: channel)
            self.flush(channel)
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
        guard let channel = self.channel else { return }
        switch self.machine.activate(isActive: channel.isActive, now: .now()) {
        case .none:
            break
        case .resume(let unwritten):
            if unwritten.readableBytes > 0 { self.give(unwritten, to: channel) }
            self.flush(channel)
            self.hub.attach(self, on: channel.eventLoop)
        }
    }

    /// Hands the player over: its socket (a duplicate of the descriptor, found in `sockets`) and
    /// where it stands, or nil when it cannot be (not streaming, or more unwritten bytes than
    /// kept). It leaves the fan-out and its channel is closed without a word to the player: the
    /// socket lives on in the duplicate. Runs on the channel's loop.
    func handOver(sockets: OpenSockets) -> (descriptor: CInt, state: HandoverState.Connection)? {
        guard let channel = self.channel, let player = self.machine.handOverState, let (copy, unwritten) = self.takeSocket(of: channel, sockets: sockets) else {
            return nil
        }
        self.hub.detach(self, on: channel.eventLoop)
        channel.close(promise: nil)
        return (copy, HandoverState.Connection(unwritten: unwritten, player: player))
    }

    /// Writes segments, framed for this player by its machine; the caller flushes. The one path
    /// for the burst, a catch-up and each new segment.
    private func write(_ entries: some Sequence<StreamHub.Entry>, to channel: Channel) -> Delivery {
        var sent = Delivery()
        for entry in entries {
            guard let bytes = self.machine.frame(entry, emit: { channel.write($0, promise: nil) }) else { continue }
            sent += Delivery(bytes: bytes, segments: 1)
        }
        return sent
    }
}
