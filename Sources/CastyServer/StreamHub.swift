import Atomics
import CastyCore
import CastyICY
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Where a node's stream meets its listeners: numbers the segments (at the ingest), keeps the
/// ring of recent ones, and fans every segment out to the players on every event loop.
///
/// `publish` is called by one producer (the upstream's thread) in stream order. Each event loop
/// has a ``LoopFanout`` that owns the players connected on it, so a segment crosses threads once
/// per loop, not once per player, and every player is served by the loop its socket lives on.
public final class StreamHub: Sendable {
    /// Tunables with defaults suited to a 128 kbps stream.
    public struct Configuration: Sendable {
        /// Audio kept in the ring, in seconds of the stream's bitrate (about 30 s).
        public var ringSeconds: Int
        /// Recent audio a new player gets at once, so that it starts playing immediately.
        public var burstBytes: Int
        /// The metadata interval Casty announces to its players.
        public var playerMetaint: Int
        /// Audio a player may fall behind (bytes not yet taken by its socket) before it is dropped.
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
        var nextSeq: UInt64
        var context: StreamContext
    }

    struct State {
        var ring: SegmentRing<Entry>
        var nextSeq: UInt64 = 0
        var title = TitleBlock()
        var context = StreamContext()
        var upstream = "starting"
    }

    /// This stream's identity.
    public let identity: StreamIdentity
    /// The configuration.
    public let configuration: Configuration
    let state: NIOLockedValueBox<State>
    let fanouts: [LoopFanout]
    let logger: Logger
    let started = ContinuousClock.now
    /// Players connected now.
    public let listeners = ManagedAtomic(0)
    /// Bytes written to players since start.
    public let bytesOut = ManagedAtomic(0)
    /// Players dropped for falling too far behind.
    public let droppedSlowListeners = ManagedAtomic(0)

    /// Creates a hub serving players on the loops of `group`.
    public init(identity: StreamIdentity = .random(), configuration: Configuration = Configuration(), group: EventLoopGroup, logger: Logger) {
        self.identity = identity
        self.configuration = configuration
        self.logger = logger
        self.state = NIOLockedValueBox(State(ring: SegmentRing<Entry>(capacityBytes: configuration.ringSeconds * 16_000)))
        self.fanouts = group.makeIterator().map { LoopFanout(loop: $0) }
    }

    /// Numbers the next segment from upstream and sends it to every player.
    @discardableResult
    public func publish(_ segment: ICYSegment) -> UInt64 {
        let entry = self.state.withLockedValue { state -> Entry in
            // A metadata block names what plays *after* it: this segment's audio keeps the old title.
            let entry = Entry(numbered: NumberedSegment(seq: state.nextSeq, segment: segment), title: state.title)
            state.nextSeq += 1
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
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.deliver(entry, hub: self) }
        }
        return entry.seq
    }

    /// Sets what the upstream said about the stream; sizes the ring to `ringSeconds` of its bitrate.
    public func setContext(_ context: StreamContext) {
        self.state.withLockedValue { state in
            state.context = context
            let bytesPerSecond = (context.bitrate ?? 128) * 1000 / 8
            if state.ring.capacityBytes != bytesPerSecond * self.configuration.ringSeconds {
                var ring = SegmentRing<Entry>(capacityBytes: max(bytesPerSecond * self.configuration.ringSeconds, 1))
                if let first = state.ring.firstSeq, let kept = state.ring.segments(from: first) {
                    kept.forEach { ring.append($0) }
                }
                state.ring = ring
            }
        }
    }

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

    func entries(from seq: UInt64) -> [Entry]? {
        self.state.withLockedValue { $0.ring.segments(from: seq) }
    }

    func fanout(for loop: EventLoop) -> LoopFanout {
        self.fanouts.first { $0.loop === loop } ?? self.fanouts[0]
    }

    /// A snapshot for `/status.json`.
    public func snapshot() -> Snapshot {
        self.state.withLockedValue { state in
            Snapshot(
                stream: self.identity.value,
                lastSeq: state.nextSeq == 0 ? nil : state.nextSeq - 1,
                title: state.title.title,
                context: state.context,
                upstream: state.upstream,
                listeners: self.listeners.load(ordering: .relaxed),
                bytesOut: self.bytesOut.load(ordering: .relaxed),
                uptime: ContinuousClock.now - self.started
            )
        }
    }

    /// Closes every player's connection.
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
