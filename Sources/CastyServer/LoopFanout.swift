import CastyCore
import CastyPeerProtocol
import NIOCore

/// The players and child peers connected on one event loop. Confined to that loop: every method
/// runs on it. It also sends the peers' heartbeats.
final class LoopFanout: @unchecked Sendable {
    let loop: EventLoop
    private var players: [ObjectIdentifier: PlayerSink] = [:]
    private var peers: [ObjectIdentifier: PeerSink] = [:]
    private var heartbeat: RepeatedTask?

    init(loop: EventLoop) {
        self.loop = loop
    }

    func add(_ player: PlayerSink) {
        self.loop.preconditionInEventLoop()
        self.players[ObjectIdentifier(player)] = player
    }

    func remove(_ player: PlayerSink) {
        self.loop.preconditionInEventLoop()
        self.players.removeValue(forKey: ObjectIdentifier(player))
    }

    func add(_ peer: PeerSink, hub: StreamHub) {
        self.loop.preconditionInEventLoop()
        self.peers[ObjectIdentifier(peer)] = peer
        if self.heartbeat == nil {
            let interval = TimeAmount.milliseconds(Int64(PeerProtocol.heartbeatIntervalMilliseconds))
            self.heartbeat = self.loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
                self?.beat(hub: hub)
            }
        }
    }

    func remove(_ peer: PeerSink) {
        self.loop.preconditionInEventLoop()
        self.peers.removeValue(forKey: ObjectIdentifier(peer))
    }

    /// The peer sinks whose node is called `name`.
    func peers(named name: String) -> [PeerSink] {
        self.peers.values.filter { $0.name == name }
    }

    /// Players written to in one go; then the loop reads and accepts before the next batch.
    static let playerBatch = 256
    /// The pause between two batches: long enough that the loop polls its sockets in between
    /// (an event loop runs every task that is due before it polls again).
    static let batchPause = TimeAmount.microseconds(20)

    /// Sends a new segment: to child peers first (their subtrees wait on it), then to players in
    /// batches, so that a listener who connects during the fan-out to thousands waits for one
    /// batch, not for all of them.
    func deliver(_ entry: StreamHub.Entry, hub: StreamHub) {
        self.loop.preconditionInEventLoop()
        if !self.peers.isEmpty {
            // One frame header per segment for every peer on this loop; the audio is shared.
            let header = ByteBuffer.peerDataFrameHeader(
                seq: entry.seq,
                metadata: entry.numbered.segment.metadata,
                audioBytes: entry.numbered.segment.audio.readableBytes
            )
            for peer in self.peers.values {
                peer.deliver(entry, header: header, hub: hub)
            }
        }
        self.deliver(entry, hub: hub, to: Array(self.players.values)[...])
    }

    private func deliver(_ entry: StreamHub.Entry, hub: StreamHub, to players: ArraySlice<PlayerSink>) {
        var sent = PlayerSink.Sent()
        for player in players.prefix(Self.playerBatch) {
            sent += player.deliver(entry, hub: hub)
        }
        // One update of the shared counters per batch, not one per listener.
        sent.count(in: hub)
        let rest = players.dropFirst(Self.playerBatch)
        guard !rest.isEmpty else { return }
        self.loop.assumeIsolated().scheduleTask(in: Self.batchPause) { self.deliver(entry, hub: hub, to: rest) }
    }

    func broadcast(_ change: TreeChange) {
        for peer in self.peers.values {
            peer.send(.tree(change))
            if case .evict(let node) = change, peer.name == node {
                peer.leave(reason: "evicted by the root")
            }
        }
    }

    /// Closes every player announced another format than `format`: the stream's format changed.
    func closePlayers(notOf format: StreamFormat) {
        for player in self.players.values where player.format != format {
            player.close(reason: "the stream's format changed from \(player.format.name) to \(format.name); reconnect")
        }
    }

    /// Tells every child peer that speaks version 2 the stream's new context.
    func contextChanged(_ context: StreamContext) {
        for peer in self.peers.values where peer.version >= 2 {
            peer.send(.context(context.headers))
        }
    }

    func streamChanged() {
        for player in self.players.values { player.resync() }
        for peer in self.peers.values { peer.leave(reason: "the stream changed; rejoin to resync") }
    }

    private func beat(hub: StreamHub) {
        let newest = hub.newestSeq ?? .max
        for peer in self.peers.values { peer.heartbeatIfIdle(newestSeq: newest) }
    }

    func closeAll() -> EventLoopFuture<Void> {
        self.heartbeat?.cancel()
        self.heartbeat = nil
        for peer in self.peers.values { peer.send(.leave(reason: "node shutting down")) }
        let futures = self.players.values.map { $0.channel.close() } + self.peers.values.map { $0.channel.close() }
        return EventLoopFuture.andAllComplete(futures, on: self.loop)
    }
}
