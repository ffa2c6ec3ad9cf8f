import CastyHandover
import CastyMedia
import CastyPeerProtocol
import CastyStream
import CastyTree
import NIOCore

/// The players and child peers connected on one event loop, and the segments it fanned out
/// lately (their catch-up). It also sends the peers' heartbeats.
///
/// `@unchecked Sendable`: the hub holds one per loop and reaches it only through `loop.execute`
/// or `loop.submit`, and its connections' handlers call it from their channel's loop, which is
/// this one; every method runs on `loop` (the mutating ones check it), so its state is never
/// touched from two threads.
final class LoopFanout: @unchecked Sendable {
    let loop: EventLoop
    private var players: [ObjectIdentifier: PlayerConnectionHandler] = [:]
    private var peers: [ObjectIdentifier: PeerConnectionHandler] = [:]
    private var heartbeat: RepeatedTask?
    /// What was fanned out lately: the catch-up of connections that missed segments.
    private(set) var recent: RecentSegments

    init(loop: EventLoop, catchUpBytes: Int) {
        self.loop = loop
        self.recent = RecentSegments(capacityBytes: catchUpBytes)
    }

    func add(_ player: PlayerConnectionHandler) {
        self.loop.preconditionInEventLoop()
        self.players[ObjectIdentifier(player)] = player
    }

    func remove(_ player: PlayerConnectionHandler) {
        self.loop.preconditionInEventLoop()
        self.players.removeValue(forKey: ObjectIdentifier(player))
    }

    func add(_ peer: PeerConnectionHandler) {
        self.loop.preconditionInEventLoop()
        self.peers[ObjectIdentifier(peer)] = peer
        if self.heartbeat == nil {
            let interval = TimeAmount.milliseconds(Int64(PeerProtocol.heartbeatIntervalMilliseconds))
            self.heartbeat = self.loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
                self?.beat()
            }
        }
    }

    func remove(_ peer: PeerConnectionHandler) {
        self.loop.preconditionInEventLoop()
        self.peers.removeValue(forKey: ObjectIdentifier(peer))
    }

    /// Players written to in one go; then the loop reads and accepts before the next batch.
    static let playerBatch = 256
    /// The pause between two batches: long enough that the loop polls its sockets in between
    /// (an event loop runs every task that is due before it polls again).
    static let batchPause = TimeAmount.microseconds(20)

    /// Sends a new segment: to child peers first (their subtrees wait on it), then to players in
    /// batches, so that a listener who connects during the fan-out to thousands waits for one
    /// batch, not for all of them. What was written is added to `counters`.
    func deliver(_ entry: StreamHub.Entry, counters: NodeCounters) {
        self.loop.preconditionInEventLoop()
        self.recent.append(entry)
        if !self.peers.isEmpty {
            // One frame header per segment for every peer on this loop; the audio is shared.
            let header = ByteBuffer.peerDataFrameHeader(
                seq: entry.seq,
                metadata: entry.numbered.segment.metadata,
                audioBytes: entry.numbered.segment.audio.readableBytes
            )
            var sent = Delivery()
            for peer in self.peers.values {
                sent += peer.deliver(entry, header: header, recent: self.recent)
            }
            counters.sent(segments: sent.segments, bytes: sent.bytes)
        }
        self.deliver(entry, counters: counters, to: Array(self.players.values)[...])
    }

    private func deliver(_ entry: StreamHub.Entry, counters: NodeCounters, to players: ArraySlice<PlayerConnectionHandler>) {
        var sent = Delivery()
        for player in players.prefix(Self.playerBatch) {
            sent += player.deliver(entry, recent: self.recent)
        }
        // One update of the shared counters per batch, not one per listener.
        counters.sent(segments: sent.segments, bytes: sent.bytes)
        let rest = players.dropFirst(Self.playerBatch)
        guard !rest.isEmpty else { return }
        self.loop.assumeIsolated().scheduleTask(in: Self.batchPause) { self.deliver(entry, counters: counters, to: rest) }
    }

    func broadcast(_ change: TreeChange) {
        for peer in self.peers.values {
            peer.treeChange(change)
        }
    }

    /// This node was evicted by the root: every child mirror is sent away (observers stay).
    func sendChildMirrorsAway(reason: String) {
        for peer in self.peers.values {
            peer.leaveIfMirror(reason: reason)
        }
    }

    /// This node's place changed: every child peer hears its own new place.
    func placeChanged() {
        for peer in self.peers.values {
            peer.placeChanged()
        }
    }

    /// Closes every player announced another format than `format`: the stream's format changed.
    func closePlayers(notOf format: StreamFormat) {
        for player in self.players.values {
            player.formatChanged(to: format)
        }
    }

    /// Tells every child peer that speaks version 2 the stream's new context.
    func contextChanged(_ context: StreamContext) {
        for peer in self.peers.values {
            peer.contextChanged(context)
        }
    }

    /// The stream has a new identity: the window is emptied, players take the new stream's
    /// segments whatever their numbers, child peers are told to rejoin.
    func streamChanged() {
        self.recent.removeAll()
        for player in self.players.values { player.streamChanged() }
        for peer in self.peers.values { peer.leave(reason: "the stream changed; rejoin to resync") }
    }

    /// Tells every child peer that takes `term` frames the root claim this node follows now.
    func termChanged(_ claim: TermRule.Claim) {
        for peer in self.peers.values { peer.termChanged(claim) }
    }

    /// Ends every child peer's link with a `leave`.
    func leavePeers(reason: String) {
        for peer in self.peers.values { peer.leave(reason: reason) }
    }

    /// Hands every player and child peer on this loop over to another process (their sockets,
    /// duplicated, and where each stands). Returns them, and how many could not be handed over
    /// (they are closed when this process exits).
    func handOver(sockets: OpenSockets) -> (handed: [(descriptor: CInt, state: HandoverState.Connection)], left: Int) {
        self.loop.preconditionInEventLoop()
        var handed: [(descriptor: CInt, state: HandoverState.Connection)] = []
        var left = 0
        // Children first: their subtrees wait on them.
        for peer in Array(self.peers.values) {
            if let one = peer.handOver(sockets: sockets) { handed.append(one) } else { left += 1 }
        }
        for player in Array(self.players.values) {
            if let one = player.handOver(sockets: sockets) { handed.append(one) } else { left += 1 }
        }
        return (handed, left)
    }

    private func beat() {
        let newest = self.recent.newestSeq ?? .max
        for peer in self.peers.values { peer.heartbeatTick(newestSeq: newest) }
    }

    func closeAll() -> EventLoopFuture<Void> {
        self.heartbeat?.cancel()
        self.heartbeat = nil
        for peer in self.peers.values { peer.shutdown() }
        let futures = self.players.values.map { $0.close() } + self.peers.values.map { $0.close() }
        return EventLoopFuture.andAllComplete(futures, on: self.loop)
    }
}
