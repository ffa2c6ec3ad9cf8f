import CastyHandover
import CastyICY
import CastyPeerProtocol
import CastyStream
import CastyTree
import Foundation
import Logging
import NIOCore

/// One join's connection once the ``ConnectionRouter`` found that it is one: the directory's
/// decision (a refusal, a redirect, or the accept head), then, for an accepted child peer or
/// observer, the catch-up and every segment, heartbeat and tree change from its loop's
/// ``LoopFanout`` until the link ends. Only moves bytes: every piece of the connection's state is
/// its ``PeerConnectionStateMachine``'s; this handler carries out its actions and maps refusals
/// to HTTP. Confined to its channel's event loop.
final class PeerConnectionHandler: ChannelInboundHandler, StreamingConnectionHandler {
    typealias InboundIn = ICYRequestHead
    typealias OutboundOut = ByteBuffer

    private let hub: StreamHub
    private let directory: PeerDirectory?
    private let hooks: PeerHooks
    private let logger: Logger
    private var machine: PeerConnectionStateMachine
    private var channel: Channel?

    var life: StreamingConnectionState {
        get { self.machine.life }
        set { self.machine.life = newValue }
        _modify { yield &self.machine.life }
    }

    init(hub: StreamHub, directory: PeerDirectory?, hooks: PeerHooks, logger: Logger) {
        self.hub = hub
        self.directory = directory
        self.hooks = hooks
        self.logger = logger
        self.machine = PeerConnectionStateMachine(tailCapacity: 2 * hub.configuration.maxListenerLagBytes)
    }

    /// A child's link taken over from another process (a hand-over): linked where `state` says,
    /// after `unwritten`, once ``activate()`` is called.
    init(hub: StreamHub, directory: PeerDirectory?, hooks: PeerHooks, logger: Logger, resuming state: HandoverState.Peer, unwritten: ByteBuffer) {
        self.hub = hub
        self.directory = directory
        self.hooks = hooks
        self.logger = logger
        self.machine = PeerConnectionStateMachine(
            resuming: state, unwritten: unwritten, now: .now(), tailCapacity: 2 * hub.configuration.maxListenerLagBytes
        )
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.channel = context.channel
    }

    /// The loop's clock (an `EmbeddedEventLoop`'s in tests), for the heartbeats.
    private var now: NIODeadline { self.channel?.eventLoop.now ?? .now() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let head = self.unwrapInboundIn(data)
        let request: Result<JoinRequest, any Error> = Result { try JoinRequest(target: head.target) }
        switch self.machine.headReceived(request, takesPeers: self.directory != nil) {
        case .ignore:
            return
        case .badRequest(let reason):
            PlainResponse(code: 400, body: reason + "\n").answer(context: context)
        case .takesNoPeers:
            PlainResponse(code: 404, body: "this node takes no peers\n").answer(context: context)
        case .decide(let request):
            guard let directory = self.directory else { preconditionFailure("a join decided without a directory") }
            self.decide(request, directory: directory, context: context)
        }
    }

    private func decide(_ request: JoinRequest, directory: PeerDirectory, context: ChannelHandlerContext) {
        let (decision, changes) = directory.decide(request)
        for change in changes {
            self.logger.notice("tree change", metadata: ["tree.change": "\(change)", "peer.name": "\(request.name)"])
            self.hub.broadcast(change)
        }
        switch self.machine.joinDecided(decision, streamIdentity: self.hub.identity.value) {
        case .refuse(let refusal, let relocateSelf):
            let response = PlainResponse.refusal(refusal, node: directory.name)
            self.logRefusal(request, response)
            if relocateSelf { self.hooks.relocateSelf?() }
            response.answer(context: context)
        case .redirect(let node):
            guard let url = directory.redirectURL(for: request, to: node) else {
                let response = PlainResponse.noAddress(for: node)
                self.logRefusal(request, response)
                response.answer(context: context)
                return
            }
            self.logger.info("join redirected", metadata: ["peer.name": "\(request.name)", "peer.redirect_to": "\(node)"])
            PlainResponse.redirect(to: url).answer(context: context)
        case .accept(let depth, let path, let version, let from):
            let join = self.hub.peerJoin(from: from)
            let head = ReplyHead.peerAccept(
                .init(
                    version: version, identity: join.identity, parent: directory.name, depth: depth, path: path,
                    nextSeq: join.nextSeq, metadata: join.metadata, context: join.context, claim: directory.claim
                )
            )
            self.give(head.buffer(allocator: context.channel.allocator), to: context.channel)
            self.logger.info(
                request.observer ? "observer joined" : "peer joined",
                metadata: ["peer.name": "\(request.name)", "peer.from": "\(join.nextSeq.map(String.init) ?? "newest")"]
            )
            switch self.machine.accepted(nextSeq: join.nextSeq, codecHeadersKnown: join.codecHeaders != nil, now: self.now) {
            case .sendCodecHeadersThenCatchUp:
                if let pages = join.codecHeaders { self.write(.codecHeaders(pages)) }
            case .catchUp:
                break
            }
            let sent = self.write(join.entries)
            self.flush(context.channel)
            self.machine.caughtUp(lastSeq: join.entries.last?.seq, now: self.now)
            self.hub.attach(self, on: context.eventLoop, catchUp: sent)
            // This node may have moved since the decision: the child hears its place now.
            self.placeChanged()
        }
    }

    /// Logs a refusal with its reason (the response's body without its line end).
    private func logRefusal(_ request: JoinRequest, _ response: PlainResponse) {
        self.logger.warning("join refused", metadata: ["peer.name": "\(request.name)", "reason": "\(response.body.dropLast())"])
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.machine.channelInactive() {
        case .none:
            break
        case .unlink(let name, let observer, let died):
            self.hub.detach(self, on: context.eventLoop)
            self.logger.info("peer left", metadata: ["peer.name": "\(name)"])
            // A link this node ended (a leave) freed its slot then; one that died is lost unless
            // the child comes back (the directory's policy decides, the tree's repair acts).
            if let directory = self.directory, !observer, died {
                directory.childLinkDied(name)
            }
        }
        context.fireChannelInactive()
    }

    // MARK: From the loop's fan-out

    /// Sends the segment if it is the one owed next (catching up from `recent` after a skip),
    /// then ends the link if the child has fallen too far behind. Returns what it wrote.
    func deliver(_ entry: StreamHub.Entry, header: ByteBuffer, recent: RecentSegments) -> Delivery {
        guard let channel = self.channel else { return Delivery() }
        switch self.machine.segment(entry.seq, now: self.now) {
        case .skip:
            return Delivery()
        case .write(let catchUpFrom):
            var sent = self.write(recent.catchUp(from: catchUpFrom, before: entry.seq))
            sent += self.write(header, entry.numbered.segment.audio)
            self.flush(channel)
            switch self.machine.written(isWritable: channel.isWritable, maxLagBytes: self.hub.configuration.maxListenerLagBytes) {
            case .none:
                break
            case .leaveTooSlow(let reason):
                self.hub.counters.droppedSlowListener()
                self.leave(reason: reason)
            }
            return sent
        }
    }

    /// The heartbeat timer fired: an idle link gets a heartbeat.
    func heartbeatTick(newestSeq: UInt64) {
        if case .send(let frame) = self.machine.heartbeatTick(newestSeq: newestSeq, now: self.now) { self.write(frame) }
    }

    /// This node follows a new root claim: a child that takes `term` frames hears of it.
    func termChanged(_ claim: TermRule.Claim) {
        if case .send(let frame) = self.machine.termChanged(claim, now: self.now) { self.write(frame) }
    }

    /// A version 2 link hears of the stream's new context.
    func contextChanged(_ context: StreamContext) {
        if case .send(let frame) = self.machine.contextChanged(context, now: self.now) { self.write(frame) }
    }

    /// This node's place changed: the child hears its own new place (version 3 links).
    func placeChanged() {
        guard let place = self.directory?.childPlace else { return }
        if case .send(let frame) = self.machine.placeChanged(depth: place.depth, path: place.path, now: self.now) { self.write(frame) }
    }

    /// Passes a tree change on; ends the link of the node it evicts.
    func treeChange(_ change: TreeChange) {
        switch self.machine.treeChange(change, now: self.now) {
        case .none:
            break
        case .send(let frame):
            self.write(frame)
        case .sendThenLeave(let frame, let reason):
            self.write(frame)
            self.leave(reason: reason)
        }
    }

    /// Ends the link with a leave frame; the child rejoins through the root.
    func leave(reason: String) {
        guard case .sendLeaveAndClose(let reason) = self.machine.leave(reason: reason), let channel = self.channel else { return }
        // The slot is free at once: the child is no redirect target while its link closes, and
        // a quick rejoin of it is not undone when the old connection closes.
        if let link = self.machine.link, !link.observer { self.directory?.childLeft(link.name) }
        self.write(.leave(reason: reason))
        self.logger.info("peer link ended", metadata: ["peer.name": "\(self.machine.link?.name ?? "")", "reason": "\(reason)"])
        channel.eventLoop.scheduleTask(in: .milliseconds(50)) { channel.close(promise: nil) }
    }

    /// Ends the link with a leave if the child is a mirror (not an observer).
    func leaveIfMirror(reason: String) {
        guard let link = self.machine.link, !link.observer else { return }
        self.leave(reason: reason)
    }

    /// The node shuts down: a linked child gets a leave.
    func shutdown() {
        if case .send(let frame) = self.machine.shutdown(now: self.now) { self.write(frame) }
    }

    /// Closes the connection.
    func close() -> EventLoopFuture<Void> {
        guard let channel = self.channel else { preconditionFailure("a peer in a fan-out has a channel") }
        return channel.close()
    }

    // MARK: Hand-over

    /// Starts serving a link taken over from another process: its unwritten bytes first, then
    /// every segment from its loop's fan-out. Runs on the channel's loop.
    func activate() {
        guard let channel = self.channel else { return }
        switch self.machine.activate(isActive: channel.isActive) {
        case .none:
            break
        case .closedMeanwhile(let name, let observer):
            // It closed during the hand-over: like any link that died.
            if !observer { self.directory?.childLinkDied(name) }
        case .resume(let unwritten):
            if unwritten.readableBytes > 0 { self.give(unwritten, to: channel) }
            self.flush(channel)
            self.hub.attach(self, on: channel.eventLoop)
        }
    }

    /// Hands the link over: its socket (a duplicate of the descriptor, found in `sockets`) and
    /// where it stands, or nil when it cannot be (not linked, or more unwritten bytes than kept).
    /// It leaves the fan-out and its channel is closed without a word to the child: the socket
    /// lives on in the duplicate. Runs on the channel's loop.
    func handOver(sockets: OpenSockets) -> (descriptor: CInt, state: HandoverState.Connection)? {
        guard let channel = self.channel, let peer = self.machine.handOverState, let (copy, unwritten) = self.takeSocket(of: channel, sockets: sockets) else {
            return nil
        }
        self.hub.detach(self, on: channel.eventLoop)
        channel.close(promise: nil)
        return (copy, HandoverState.Connection(unwritten: unwritten, peer: peer))
    }

    /// Writes and flushes one frame other than data.
    private func write(_ frame: PeerFrame) {
        guard let channel = self.channel else { return }
        var buffer = channel.allocator.buffer(capacity: 32)
        buffer.writePeerFrame(frame)
        self.give(buffer, to: channel)
        self.flush(channel)
    }

    /// Writes data frames; the caller flushes. The one path for the catch-up and each segment.
    private func write(_ entries: [StreamHub.Entry]) -> Delivery {
        var sent = Delivery()
        for entry in entries {
            let header = ByteBuffer.peerDataFrameHeader(
                seq: entry.seq,
                metadata: entry.numbered.segment.metadata,
                audioBytes: entry.numbered.segment.audio.readableBytes
            )
            sent += self.write(header, entry.numbered.segment.audio)
        }
        return sent
    }

    private func write(_ header: ByteBuffer, _ audio: ByteBuffer) -> Delivery {
        guard let channel = self.channel else { return Delivery() }
        self.give(header, to: channel)
        self.give(audio, to: channel)
        return Delivery(bytes: header.readableBytes + audio.readableBytes, segments: 1)
    }
}
