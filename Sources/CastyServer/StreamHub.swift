import Atomics
import CastyHandover
import CastyICY
import CastyMedia
import CastyPeerProtocol
import CastyStream
import CastyTree
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Where a node's stream meets its listeners and child peers: numbers the segments (at the
/// ingest) or takes the parent's numbers (at a mirror), keeps the ring of recent ones, and fans
/// every segment out to the players and peers on every event loop.
///
/// Segments arrive from the upstream's thread in stream order (and, at a fleet's ingest that
/// takes over from the root, from the takeover too); every change is queued for the loops under
/// the hub's lock and handed to them after it, in the order made. Each event loop has
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

    /// A segment with the title that was current while its audio played, where a new listener
    /// may start in it, and the Ogg header set in force before it.
    typealias Entry = StreamLedger.Entry
    /// What a joining player needs: recent audio and the context.
    typealias Join = StreamLedger.Join
    /// What a joining peer gets: the ring from the segment it wants, and what it needs to serve
    /// from there.
    typealias PeerJoin = StreamLedger.PeerJoin

    struct State {
        /// The stream: identity, numbering, ring, titles, context and format.
        var ledger: StreamLedger
        var upstream = UpstreamState.starting
        /// At a fleet's ingest while it is not the root: its own radio, kept for a takeover.
        var standby: StandbyStream?
        /// What the ledger's changes mean for the fan-outs, in the order they were made, not yet
        /// handed to the loops (see ``withState(_:)``).
        var handoffs: [Handoff] = []
        /// Whether a thread is handing ``handoffs`` to the loops now.
        var handing = false
    }

    /// A change every loop's fan-out hears of, in the ledger's order.
    enum Handoff {
        /// Players of another format are closed (their decoders cannot follow).
        case closePlayers(notOf: StreamFormat)
        /// Child peers hear of a new context.
        case contextChanged(StreamContext)
        /// A segment to send on.
        case deliver(Entry)
        /// A new stream: what the fan-out kept of the old one is dropped.
        case streamChanged
    }

    /// The configuration.
    public let configuration: Configuration
    let state: NIOLockedValueBox<State>
    let fanouts: [LoopFanout]
    let logger: Logger
    let started = ContinuousClock.now
    /// What the node counts (listeners, peers, segments, bytes, drops, losses, reconnects).
    public let counters = NodeCounters()
    /// The newest segment number the parent announced (a mirror's heartbeats), for the lag.
    public let parentNewestSeq = ManagedAtomic(UInt64.max)
    /// At a fleet's ingest that follows the root: the newest segment's arrival, for the role.
    let arrival = ArrivalStamp()
    /// Creates a hub serving connections on the loops of `group`.
    ///
    /// - Parameter nextSeq: the first number to give (0 at an ingest), or `nil` at a mirror, which
    ///   takes its numbers from its parent.
    public init(identity: StreamIdentity = .random(), nextSeq: UInt64? = 0, configuration: Configuration = Configuration(), group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.state = NIOLockedValueBox(State(ledger: StreamLedger(identity: identity, nextSeq: nextSeq, ringSeconds: configuration.ringSeconds)))
        // Each loop keeps about as much as the ring starts with, for its connections' catch-up.
        self.fanouts = group.makeIterator().map { LoopFanout(loop: $0, catchUpBytes: configuration.ringSeconds * 16_000) }
    }

    /// This stream's identity.
    public var identity: StreamIdentity { self.state.withLockedValue { $0.ledger.identity } }

    /// The number the next segment will carry; `nil` at a mirror that has no stream yet.
    public var nextSeq: UInt64? { self.state.withLockedValue { $0.ledger.nextSeq } }

    /// Numbers the next segment from the radio and sends it on (the ingest's way). At a fleet's
    /// ingest that is not the root, the segment is kept aside for a takeover instead (see
    /// ``standBy(resettingStream:)``); after its takeover, it is spliced onto the old root's
    /// stream first.
    public func publish(_ segment: ICYSegment) {
        let (notes, decided) = self.withState { state -> ([StreamLedger.Notes], ReconnectSplicer.Outcome?) in
            guard state.standby != nil else { return ([self.number(segment, in: &state)], nil) }
            let pending = state.standby!.tookOver && state.standby!.splicer.lastOutcome == nil
            let spliced = state.standby!.splicer.own(segment)
            return (spliced.map { self.number($0, in: &state) }, pending ? state.standby!.splicer.lastOutcome : nil)
        }
        for notes in notes { self.report(notes, taken: true) }
        // A takeover's splice decided after the takeover (the own radio was behind the root).
        switch decided {
        case .spliced(let repeated)?: self.logger.notice("takeover spliced", metadata: ["splice.repeated_bytes": "\(repeated)"])
        case .noOverlap?: self.logger.warning("takeover: the own radio's audio does not continue the old root's; some audio is lost")
        case nil: break
        }
    }

    /// Takes segment `seq` from the parent and sends it on (a mirror's way). A number already
    /// had is ignored (no repeat); a number past the next expected one is logged as a loss. At a
    /// fleet's ingest that follows the root, its arrival is noted for the role's silence clock;
    /// after its takeover, nothing more is taken from the old root.
    public func receive(seq: UInt64, segment: ICYSegment) {
        let notes = self.withState { state -> StreamLedger.Notes? in
            guard state.standby != nil else {
                guard let (entry, notes) = state.ledger.receive(seq: seq, segment: segment) else { return nil }
                Self.forward(notes, entry, into: &state)
                return notes
            }
            guard !state.standby!.tookOver else { return nil }
            self.arrival.note(seq: seq)
            guard let (entry, notes) = state.ledger.receive(seq: seq, segment: segment) else { return nil }
            state.standby!.splicer.followed(segment)
            Self.forward(notes, entry, into: &state)
            return notes
        }
        if let notes { self.report(notes, taken: true) }
    }

    /// Under the lock: numbers `segment` and queues it for the fan-outs.
    func number(_ segment: ICYSegment, in state: inout State) -> StreamLedger.Notes {
        let (entry, notes) = state.ledger.publish(segment)
        Self.forward(notes, entry, into: &state)
        return notes
    }

    /// Starts following a new stream identity (a restarted ingest): the ring is emptied, players
    /// carry on with the new stream's audio, and child peers are told to rejoin and resync.
    public func resetStream(identity: StreamIdentity, nextSeq: UInt64?) {
        let reset = self.withState { state in
            guard state.ledger.reset(identity: identity, nextSeq: nextSeq) else { return false }
            state.handoffs.append(.streamChanged)
            return true
        }
        if reset { self.logger.notice("following a new stream identity", metadata: ["stream.identity": "\(identity)"]) }
    }

    /// Changes the state with `body` under the lock, then hands the loops' fan-outs what the
    /// ledger's changes mean for them, in the order the changes were made, with no lock held.
    /// Changes made on two threads at once (a standby's radio and its takeover both number
    /// segments) still reach every loop in order: whichever thread finds the hand-off idle
    /// hands it until it is empty.
    func withState<Result>(_ body: (inout State) -> Result) -> Result {
        let (result, hands) = self.state.withLockedValue { state -> (Result, Bool) in
            let result = body(&state)
            guard !state.handing, !state.handoffs.isEmpty else { return (result, false) }
            state.handing = true
            return (result, true)
        }
        if hands { self.handOff() }
        return result
    }

    /// Hands the pending changes to every loop, until none is left (this thread claimed the
    /// hand-off in ``withState(_:)``).
    private func handOff() {
        while let handoffs = self.state.withLockedValue({ state -> [Handoff]? in
            guard !state.handoffs.isEmpty else {
                state.handing = false
                return nil
            }
            defer { state.handoffs = [] }
            return state.handoffs
        }) {
            for fanout in self.fanouts {
                fanout.loop.execute {
                    for handoff in handoffs {
                        switch handoff {
                        case .closePlayers(let format): fanout.closePlayers(notOf: format)
                        case .contextChanged(let context): fanout.contextChanged(context)
                        case .deliver(let entry): fanout.deliver(entry, counters: self.counters)
                        case .streamChanged: fanout.streamChanged()
                        }
                    }
                }
            }
        }
    }

    /// Under the lock: what a change of the ledger means for the fan-outs (players of a format
    /// that changed are closed, child peers hear of a new context), then the segment taken, if
    /// any, queued for ``withState(_:)`` to hand on.
    static func forward(_ notes: StreamLedger.Notes, _ entry: Entry? = nil, into state: inout State) {
        if let change = notes.formatChanged { state.handoffs.append(.closePlayers(notOf: change.to)) }
        if let context = notes.contextChanged { state.handoffs.append(.contextChanged(context)) }
        if let entry { state.handoffs.append(.deliver(entry)) }
    }

    /// After the lock: counts and logs what a change of the ledger found.
    func report(_ notes: StreamLedger.Notes, taken: Bool = false) {
        if taken {
            self.counters.segmentTaken(afterLosing: notes.lost.map { Int(min($0.upperBound - $0.lowerBound, UInt64(Int.max))) } ?? 0)
        }
        if let lost = notes.lost {
            self.logger.warning("segments lost upstream", metadata: ["segments.from": "\(lost.lowerBound)", "segments.to": "\(lost.upperBound - 1)"])
        }
        if let mismatch = notes.formatMismatch {
            self.logger.warning("\(mismatch)")
        }
        if let change = notes.formatChanged {
            self.logger.info("the stream's format is now \(change.to.name)", metadata: ["stream.format.old": "\(change.from.name)"])
        }
        for problem in notes.problems {
            self.logger.warning("damaged stream: \(problem)")
        }
        if let title = notes.newOggTitle {
            self.logger.info("new Ogg chain", metadata: ["stream.title": "\(title)"])
        }
        if let error = notes.titleError {
            self.logger.warning("ignoring a title too long for one block", metadata: ["error": "\(error)"])
        }
    }

    /// Sends every child peer that takes `term` frames the root claim this node follows now (a
    /// fleet with a standby root).
    public func announce(_ claim: TermRule.Claim) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.termChanged(claim) }
        }
    }

    /// Sends every child peer and observer a `leave` with `reason`, ending its link (a root that
    /// steps down).
    public func leavePeers(reason: String) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.leavePeers(reason: reason) }
        }
    }

    /// Sends a tree change to every child peer.
    public func broadcast(_ change: TreeChange) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.broadcast(change) }
        }
    }

    /// The root evicted this node: its child mirrors get a `leave` and rejoin through the root,
    /// which has placed them elsewhere (observers stay).
    public func sendChildMirrorsAway(reason: String) {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.sendChildMirrorsAway(reason: reason) }
        }
    }

    /// This node's place in the tree changed (it joined a new parent, or an ancestor moved):
    /// every child peer is told its own new place, computed when the frame is written.
    public func placeChanged() {
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.placeChanged() }
        }
    }

    /// Sets what the upstream said about the stream; sizes the ring to `ringSeconds` of its
    /// bitrate. The format follows the `Content-Type`; with `checkBytes` (the ingest, at every
    /// connection to the radio) the next segment's bytes confirm or correct it. Child peers hear
    /// of a changed context at once.
    public func setContext(_ context: StreamContext, checkBytes: Bool = false) {
        let notes = self.withState { state in
            let notes = state.ledger.setContext(context, checkBytes: checkBytes)
            Self.forward(notes, into: &state)
            return notes
        }
        self.report(notes)
    }

    /// Takes the Ogg header pages a parent sent (a mirror that joined mid-stream), unless this
    /// node follows a chain already.
    public func resume(codecHeaders pages: ByteBuffer) {
        if let problem = self.state.withLockedValue({ $0.ledger.resume(codecHeaders: pages) }) {
            self.logger.warning("\(problem)")
        }
    }

    /// Takes the metadata text in force at the next segment (a mirror's join reply), so that its
    /// players' first metadata block names what they hear.
    public func resume(metadata: ByteBuffer) {
        let error = self.state.withLockedValue { state -> ICYError? in
            do throws(ICYError) {
                try state.ledger.resume(metadata: metadata)
                return nil
            } catch {
                return error
            }
        }
        if let error { self.logger.warning("ignoring a title too long for one block", metadata: ["error": "\(error)"]) }
    }

    /// The context players and children get.
    public var context: StreamContext { self.state.withLockedValue { $0.ledger.context } }

    /// Records the upstream's state for the status report.
    public func setUpstreamState(_ upstream: UpstreamState) {
        self.state.withLockedValue { $0.upstream = upstream }
    }

    /// What a joining player gets: the burst and the context.
    func join() -> Join {
        self.state.withLockedValue { $0.ledger.join(burstBytes: self.configuration.burstBytes) }
    }

    /// What a joining peer that wants segment `from` gets: the ring from there (or from its
    /// oldest segment, if `from` is gone), the number of its first segment, and the context.
    func peerJoin(from: UInt64?) -> PeerJoin {
        self.state.withLockedValue { $0.ledger.peerJoin(from: from) }
    }

    /// The newest segment number, if any.
    public var newestSeq: UInt64? {
        self.state.withLockedValue { $0.ledger.ring.lastSeq }
    }

    /// Segments kept in the ring now.
    public var ringCount: Int { self.state.withLockedValue { $0.ledger.ring.count } }

    /// Segments this node is behind its parent (0 at the root or when unknown).
    public var lagSegments: Int {
        let parentNewest = self.parentNewestSeq.load(ordering: .relaxed)
        guard parentNewest != .max, let own = self.newestSeq else { return 0 }
        return parentNewest > own ? Int(parentNewest - own) : 0
    }

    func fanout(for loop: EventLoop) -> LoopFanout {
        self.fanouts.first { $0.loop === loop } ?? self.fanouts[0]
    }

    /// A player starts streaming on `loop` (its start, `burst`, already written): counted as a
    /// listener, and its loop's fan-out writes every new segment to it from now on.
    func attach(_ player: PlayerConnectionHandler, on loop: EventLoop, burst: Delivery = Delivery()) {
        self.counters.playerJoined()
        self.counters.sent(segments: burst.segments, bytes: burst.bytes)
        self.fanout(for: loop).add(player)
    }

    /// A player stops streaming on `loop` (it left, or was handed over).
    func detach(_ player: PlayerConnectionHandler, on loop: EventLoop) {
        self.fanout(for: loop).remove(player)
        self.counters.playerLeft()
    }

    /// A child peer starts streaming on `loop` (its catch-up, `catchUp`, already written).
    func attach(_ peer: PeerConnectionHandler, on loop: EventLoop, catchUp: Delivery = Delivery()) {
        self.counters.peerJoined()
        self.counters.sent(segments: catchUp.segments, bytes: catchUp.bytes)
        self.fanout(for: loop).add(peer)
    }

    /// A child peer stops streaming on `loop` (its link ended, or was handed over).
    func detach(_ peer: PeerConnectionHandler, on loop: EventLoop) {
        self.fanout(for: loop).remove(peer)
        self.counters.peerLeft()
    }

    /// A snapshot for `/status.json`.
    public func snapshot() -> Snapshot {
        self.state.withLockedValue { state in
            Snapshot(
                stream: state.ledger.identity.value,
                lastSeq: state.ledger.ring.lastSeq,
                title: state.ledger.currentTitle,
                format: state.ledger.format,
                context: state.ledger.context,
                upstream: state.upstream,
                listeners: self.counters.listeners,
                bytesOut: self.counters.values.bytesOut,
                uptime: ContinuousClock.now - self.started
            )
        }
    }

    // MARK: Hand-over

    /// Hands every player and child peer over to another process: their sockets (duplicated
    /// descriptors, which the caller owns) and where each stands. They leave this hub at once;
    /// `left` counts those that could not be handed over.
    public func handOver() async -> (connections: [(descriptor: CInt, state: HandoverState.Connection)], left: Int) {
        let sockets = OpenSockets()
        var connections: [(descriptor: CInt, state: HandoverState.Connection)] = []
        var left = 0
        for fanout in self.fanouts {
            guard let part = try? await fanout.loop.submit({ fanout.handOver(sockets: sockets) }).get() else { continue }
            connections += part.handed
            left += part.left
        }
        return (connections, left)
    }

    /// The stream as a joining child peer would get it from the oldest kept segment: for the
    /// process that takes over. Nil when this node has no stream yet.
    public func handoverStream() -> HandoverState.Stream? {
        let join = self.peerJoin(from: 0)
        guard join.identity.value != "none" else { return nil }
        return HandoverState.Stream(
            identity: join.identity.value,
            nextSeq: self.nextSeq,
            context: join.context.headers.map { HandoverState.Header(name: $0.name, value: $0.value) },
            metadata: Data(join.metadata.readableBytesView),
            codecHeaders: join.codecHeaders.map { Data($0.readableBytesView) },
            segments: join.entries.map {
                HandoverState.Segment(
                    seq: $0.seq, audio: Data($0.numbered.segment.audio.readableBytesView), metadata: Data($0.numbered.segment.metadata.readableBytesView)
                )
            }
        )
    }

    /// Takes the stream another process handed over: its identity, context, title, Ogg headers
    /// and kept segments, as if a parent had sent them.
    public func restore(_ stream: HandoverState.Stream) {
        self.resetStream(identity: StreamIdentity(value: stream.identity), nextSeq: stream.segments.first?.seq ?? stream.nextSeq)
        self.setContext(StreamContext(headers: HTTPHeaders(stream.context.map { ($0.name, $0.value) })))
        if !stream.metadata.isEmpty { self.resume(metadata: ByteBuffer(bytes: stream.metadata)) }
        if let pages = stream.codecHeaders { self.resume(codecHeaders: ByteBuffer(bytes: pages)) }
        for segment in stream.segments {
            self.receive(seq: segment.seq, segment: ICYSegment(audio: ByteBuffer(bytes: segment.audio), metadata: ByteBuffer(bytes: segment.metadata)))
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
        public var format: StreamFormat
        public var context: StreamContext
        public var upstream: UpstreamState
        public var listeners: Int
        public var bytesOut: Int
        public var uptime: Duration
    }
}
