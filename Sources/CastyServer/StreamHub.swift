import Atomics
import CastyCore
import CastyICY
import CastyPeerProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Where a node's stream meets its listeners and child peers: numbers the segments (at the
/// ingest) or takes the parent's numbers (at a mirror), keeps the ring of recent ones, and fans
/// every segment out to the players and peers on every event loop.
///
/// Segments arrive from one producer (the upstream's thread) in stream order. Each event loop has
/// a ``LoopFanout`` that owns the connections on it, so a segment crosses threads once per loop,
/// not once per listener, and every connection is served by the loop its socket lives on.
public final class StreamHub: Sendable {
    /// Tunables with defaults suited to a 128 kbps stream.
    public struct Configuration: Sendable {
        /// Audio kept in the ring, in seconds of the stream's bitrate (about 30 s).
        public var ringSeconds: Int
        /// Recent audio a new player gets at once, so that it starts playing immediately.
        public var burstBytes: Int
        /// The metadata interval Casty announces to its players.
        public var playerMetaint: Int
        /// Audio a listener may fall behind (bytes not yet taken by its socket) before it is dropped.
        public var maxListenerLagBytes: Int

        /// Creates a configuration.
        public init(ringSeconds: Int = 30, burstBytes: Int = 256 * 1024, playerMetaint: Int = 16_000, maxListenerLagBytes: Int = 512 * 1024) {
            self.ringSeconds = ringSeconds
            self.burstBytes = burstBytes
            self.playerMetaint = playerMetaint
            self.maxListenerLagBytes = maxListenerLagBytes
        }
    }

    /// A segment with the title that was current while its audio played.
    struct Entry: RingElement {
        var numbered: NumberedSegment
        var title: TitleBlock
        var seq: UInt64 { self.numbered.seq }
        var audioByteCount: Int { self.numbered.segment.audio.readableBytes }
    }

    /// What a joining player needs: recent audio and the context.
    struct Join {
        var burst: [Entry]
        var nextSeq: UInt64?
        var context: StreamContext
    }

    struct State {
        var identity: StreamIdentity
        var ring: SegmentRing<Entry>
        var nextSeq: UInt64?
        var title = TitleBlock()
        var context = StreamContext()
        var upstream = "starting"
    }

    /// The configuration.
    public let configuration: Configuration
    let state: NIOLockedValueBox<State>
    let fanouts: [LoopFanout]
    let logger: Logger
    let started = ContinuousClock.now
    /// Players connected now.
    public let listeners = ManagedAtomic(0)
    /// Bytes written to players and peers since start.
    public let bytesOut = ManagedAtomic(0)
    /// Listeners dropped for falling too far behind.
    public let droppedSlowListeners = ManagedAtomic(0)
    /// Segments missing between what the parent sent and what this node had (a mirror's loss).
    public let lostSegments = ManagedAtomic(0)
    /// Segments taken in (from the radio or the parent).
    public let segmentsIn = ManagedAtomic(0)
    /// Segments sent to players and peers (one per listener per segment).
    public let segmentsOut = ManagedAtomic(0)
    /// Child peers and observers connected now.
    public let peers = ManagedAtomic(0)
    /// Times this node rejoined the tree (a mirror) or reconnected to the radio (the ingest).
    public let reconnects = ManagedAtomic(0)
    /// The newest segment number the parent announced (a mirror's heartbeats), for the lag.
    public let parentNewestSeq = ManagedAtomic(UInt64.max)

    /// Creates a hub serving connections on the loops of `group`.
    ///
    /// - Parameter nextSeq: the first number to give (0 at an ingest), or `nil` at a mirror, which
    ///   takes its numbers from its parent.
    public init(identity: StreamIdentity = .random(), nextSeq: UInt64? = 0, configuration: Configuration = Configuration(), group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.state = NIOLockedValueBox(
            State(identity: identity, ring: SegmentRing<Entry>(capacityBytes: configuration.ringSeconds * 16_000), nextSeq: nextSeq)
        )
        self.fanouts = group.makeIterator().map { LoopFanout(loop: $0) }
    }

    /// This stream's identity.
    public var identity: StreamIdentity { self.state.withLockedValue { $0.identity } }

    /// The number the next segment will carry; `nil` at a mirror that has no stream yet.
    public var nextSeq: UInt64? { self.state.withLockedValue { $0.nextSeq } }

    /// Numbers the next segment from the radio and sends it on (the ingest's way).
    @discardableResult
    public func publish(_ segment: ICYSegment) -> UInt64 {
        let entry = self.state.withLockedValue { state in
            self.append(seq: state.nextSeq ?? 0, segment: segment, to: &state)
        }
        self.deliver(entry)
        return entry.seq
    }

    /// Takes segment `seq` from the parent and sends it on (a mirror's way). A number already
    /// had is ignored (no repeat); a number past the next expected one is logged as a loss.
    ///
    /// - Returns: whether the segment was new.
    @discardableResult
    public func receive(seq: UInt64, segment: ICYSegment) -> Bool {
        let entry = self.state.withLockedValue { state -> Entry? in
            if let next = state.nextSeq {
                if seq < next { return nil }
                if seq > next {
                    self.lostSegments.wrappingIncrement(by: Int(min(seq - next, UInt64(Int.max))), ordering: .relaxed)
                    self.logger.warning("segments lost upstream", metadata: ["segments.from": "\(next)", "segments.to": "\(seq - 1)"])
                    state.ring.removeAll()
                }
            }
            return self.append(seq: seq, segment: segment, to: &state)
        }
        guard let entry else { return false }
        self.deliver(entry)
        return true
    }

    /// Starts following a new stream identity (a restarted ingest): the ring is emptied, players
    /// carry on with the new stream's audio, and child peers are told to rejoin and resync.
    public func resetStream(identity: StreamIdentity, nextSeq: UInt64?) {
        let changed = self.state.withLockedValue { state -> Bool in
            guard state.identity != identity else { return false }
            state.identity = identity
            state.ring.removeAll()
            state.nextSeq = nextSeq
            return true
        }
        guard changed else { return }
        self.logger.notice("following a new stream identity", metadata: ["stream.identity": "\(identity)"])
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.streamChanged() }
        }
    }

    private func append(seq: UInt64, segment: ICYSegment, to state: inout State) -> Entry {
        // A metadata block names what plays *after* it: this segment's audio keeps the old title.
        let entry = Entry(numbered: NumberedSegment(seq: seq, segment: segment), title: state.title)
        self.segmentsIn.wrappingIncrement(ordering: .relaxed)
        state.nextSeq = seq + 1
        state.ring.append(entry)
        if segment.metadata.readableBytes > 0 {
            do {
                try state.title.update(segment.metadata)
            } catch {
                self.logger.warning("ignoring a title too long for one block", metadata: ["error": "\(error)"])
            }
        }
        return entry
    }

    private func deliver(_ entry: Entry) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.deliver(entry, hub: self) }
        }
    }

    /// Sends a tree change to every child peer.
    public func broadcast(_ change: TreeChange) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.broadcast(change) }
        }
    }

    /// Sets what the upstream said about the stream; sizes the ring to `ringSeconds` of its bitrate.
    public func setContext(_ context: StreamContext) {
        self.state.withLockedValue { state in
            state.context = context
            let capacity = max((context.bitrate ?? 128) * 1000 / 8 * self.configuration.ringSeconds, 1)
            if state.ring.capacityBytes != capacity {
                var ring = SegmentRing<Entry>(capacityBytes: capacity)
                if let first = state.ring.firstSeq, let kept = state.ring.segments(from: first) {
                    kept.forEach { ring.append($0) }
                }
                state.ring = ring
            }
        }
    }

    /// The context players and children get.
    public var context: StreamContext { self.state.withLockedValue { $0.context } }

    /// Records the upstream's state for the status report.
    public func setUpstreamState(_ description: String) {
        self.state.withLockedValue { $0.upstream = description }
    }

    func join() -> Join {
        self.state.withLockedValue { state in
            let burst = Array(state.ring.newest(audioBytes: self.configuration.burstBytes))
            return Join(burst: burst, nextSeq: state.nextSeq, context: state.context)
        }
    }

    /// What a joining peer that wants segment `from` gets: the ring from there (or from its
    /// oldest segment, if `from` is gone), the number of its first segment, and the context.
    func peerJoin(from: UInt64?) -> (entries: [Entry], nextSeq: UInt64?, identity: StreamIdentity, context: StreamContext) {
        self.state.withLockedValue { state in
            var entries: [Entry] = []
            var next = state.nextSeq
            if let from {
                if let kept = state.ring.segments(from: from) {
                    entries = kept
                    next = from
                } else if let first = state.ring.firstSeq, from < first, let kept = state.ring.segments(from: first) {
                    entries = kept
                    next = first
                } else {
                    next = from  // newer than anything here: wait for it
                }
            }
            return (entries, next, state.identity, state.context)
        }
    }

    func entries(from seq: UInt64) -> [Entry]? {
        self.state.withLockedValue { $0.ring.segments(from: seq) }
    }

    /// The newest segment number, if any.
    public var newestSeq: UInt64? {
        self.state.withLockedValue { state in state.ring.lastSeq }
    }

    /// Segments kept in the ring now.
    public var ringCount: Int { self.state.withLockedValue { $0.ring.count } }

    /// Segments this node is behind its parent (0 at the root or when unknown).
    public var lagSegments: Int {
        let parentNewest = self.parentNewestSeq.load(ordering: .relaxed)
        guard parentNewest != .max, let own = self.newestSeq else { return 0 }
        return parentNewest > own ? Int(parentNewest - own) : 0
    }

    func fanout(for loop: EventLoop) -> LoopFanout {
        self.fanouts.first { $0.loop === loop } ?? self.fanouts[0]
    }

    /// A snapshot for `/status.json`.
    public func snapshot() -> Snapshot {
        self.state.withLockedValue { state in
            Snapshot(
                stream: state.identity.value,
                lastSeq: state.ring.lastSeq,
                title: state.title.title,
                context: state.context,
                upstream: state.upstream,
                listeners: self.listeners.load(ordering: .relaxed),
                bytesOut: self.bytesOut.load(ordering: .relaxed),
                uptime: ContinuousClock.now - self.started
            )
        }
    }

    /// Closes every connection.
    public func closeAll() -> EventLoopFuture<Void> {
        let futures = self.fanouts.map { fanout in fanout.loop.flatSubmit { fanout.closeAll() } }
        return EventLoopFuture.andAllComplete(futures, on: self.fanouts[0].loop)
    }

    /// What the hub reports about itself.
    public struct Snapshot: Sendable {
        public var stream: String
        public var lastSeq: UInt64?
        public var title: String?
        public var context: StreamContext
        public var upstream: String
        public var listeners: Int
        public var bytesOut: Int
        public var uptime: Duration
    }
}
