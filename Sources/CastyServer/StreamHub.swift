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

    /// A segment with the title that was current while its audio played, where a new listener
    /// may start in it, and the Ogg header set in force before it.
    struct Entry: RingElement {
        var numbered: NumberedSegment
        var title: TitleBlock
        var start: ListenerStart?
        var headersBefore: OggHeaders?
        var seq: UInt64 { self.numbered.seq }
        var audioByteCount: Int { self.numbered.segment.audio.readableBytes }
    }

    /// What a joining player needs: recent audio and the context.
    struct Join {
        var burst: [Entry]
        var nextSeq: UInt64?
        var context: StreamContext
        /// The format the player is announced (its `Content-Type`'s): a later change of the
        /// stream's format to another closes it.
        var format: StreamFormat { StreamFormat(contentType: self.context.contentType) }
    }

    /// What a joining peer gets: the ring from the segment it wants, and what it needs to serve
    /// from there.
    struct PeerJoin {
        var entries: [Entry]
        var nextSeq: UInt64?
        var identity: StreamIdentity
        var context: StreamContext
        /// The metadata text in force at the first segment sent (empty: none).
        var metadata: ByteBuffer
        /// The Ogg header pages in force at the first segment sent.
        var codecHeaders: ByteBuffer?
    }

    struct State {
        var identity: StreamIdentity
        var ring: SegmentRing<Entry>
        var nextSeq: UInt64?
        var title = TitleBlock()
        var context = StreamContext()
        var upstream = UpstreamState.starting
        /// Where listeners may start, for the stream's format.
        var finder = ListenerStartFinder(format: .mp3)
        /// The radio's context of a new connection (the ingest), in force at once and checked
        /// against its first segment's bytes, which may correct its `Content-Type`.
        var pendingContext: StreamContext?
        /// The context the radio sent at its last connection, as it sent it.
        var radioContext: StreamContext?
    }

    /// The configuration.
    public let configuration: Configuration
    let state: NIOLockedValueBox<State>
    let fanouts: [LoopFanout]
    let logger: Logger
    /// Whether this hub joins a stream in its middle (a mirror), rather than from a radio's first
    /// byte (the ingest).
    let resumes: Bool
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
        self.resumes = nextSeq == nil
        var state = State(identity: identity, ring: SegmentRing<Entry>(capacityBytes: configuration.ringSeconds * 16_000), nextSeq: nextSeq)
        state.finder = nextSeq == nil ? ListenerStartFinder(format: .mp3, resumingWith: nil) : ListenerStartFinder(format: .mp3)
        self.state = NIOLockedValueBox(state)
        // Each loop keeps about as much as the ring starts with, for its connections' catch-up.
        self.fanouts = group.makeIterator().map { LoopFanout(loop: $0, catchUpBytes: configuration.ringSeconds * 16_000) }
    }

    /// This stream's identity.
    public var identity: StreamIdentity { self.state.withLockedValue { $0.identity } }

    /// The number the next segment will carry; `nil` at a mirror that has no stream yet.
    public var nextSeq: UInt64? { self.state.withLockedValue { $0.nextSeq } }

    /// Numbers the next segment from the radio and sends it on (the ingest's way).
    @discardableResult
    public func publish(_ segment: ICYSegment) -> UInt64 {
        let (entry, notes) = self.state.withLockedValue { state in
            self.append(seq: state.nextSeq ?? 0, segment: segment, to: &state)
        }
        self.handle(notes)
        self.deliver(entry)
        return entry.seq
    }

    /// Takes segment `seq` from the parent and sends it on (a mirror's way). A number already
    /// had is ignored (no repeat); a number past the next expected one is logged as a loss.
    ///
    /// - Returns: whether the segment was new.
    @discardableResult
    public func receive(seq: UInt64, segment: ICYSegment) -> Bool {
        let appended = self.state.withLockedValue { state -> (Entry, AppendNotes)? in
            if let next = state.nextSeq {
                if seq < next { return nil }
                if seq > next {
                    self.lostSegments.wrappingIncrement(by: Int(min(seq - next, UInt64(Int.max))), ordering: .relaxed)
                    state.ring.removeAll()
                    var (entry, notes) = self.append(seq: seq, segment: segment, to: &state)
                    notes.lost = next..<seq
                    return (entry, notes)
                }
            }
            return self.append(seq: seq, segment: segment, to: &state)
        }
        guard let (entry, notes) = appended else { return false }
        self.handle(notes)
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
            state.finder = ListenerStartFinder(format: state.finder.format, resumingWith: nil)
            return true
        }
        guard changed else { return }
        self.logger.notice("following a new stream identity", metadata: ["stream.identity": "\(identity)"])
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.streamChanged() }
        }
    }

    /// What appending a segment found that is worth a log line or an action, done after the lock.
    struct AppendNotes {
        var lost: Range<UInt64>?
        var formatMismatch: String?
        var contextChanged: StreamContext?
        /// The stream's format changed: players' decoders cannot follow.
        var formatChanged: FormatChange?
        var newOggTitle: String?
        var problems: [String] = []
        var titleError: ICYError?
    }

    private func append(seq: UInt64, segment: ICYSegment, to state: inout State) -> (Entry, AppendNotes) {
        var notes = AppendNotes()
        if var context = state.pendingContext {
            // The ingest's first segment of a connection: the bytes may contradict the label.
            state.pendingContext = nil
            let check = segment.audio.withUnsafeReadableBytes {
                StreamFormat.Check(contentType: context.headers.first(name: "content-type"), firstBytes: $0)
            }
            if let mismatch = check.mismatch {
                notes.formatMismatch = mismatch
                if let type = check.format.contentType {
                    context.headers.replaceOrAdd(name: "Content-Type", value: type)
                }
            }
            (notes.contextChanged, notes.formatChanged) = self.apply(context, format: check.format, to: &state)
        }
        let observation = state.finder.observe(segment.audio)
        notes.problems = observation.problems
        if let headers = observation.newHeaders { notes.newOggTitle = headers.title }
        // A metadata block names what plays *after* it: this segment's audio keeps the old title,
        // except before the stream's first title (a radio's burst precedes its first metadata
        // block): that audio is named by the first title too, so a player's first block never is
        // empty once a title is known.
        var title = state.title
        if segment.metadata.readableBytes > 0 {
            do {
                try state.title.update(segment.metadata)
            } catch {
                notes.titleError = error
            }
            if title.version == 0 { title = state.title }
        }
        let entry = Entry(
            numbered: NumberedSegment(seq: seq, segment: segment),
            title: title,
            start: observation.start,
            headersBefore: observation.headersBefore
        )
        self.segmentsIn.wrappingIncrement(ordering: .relaxed)
        state.nextSeq = seq + 1
        state.ring.append(entry)
        return (entry, notes)
    }

    /// Switches to `format` if it is not the one followed; returns the change.
    private func use(format: StreamFormat, in state: inout State) -> FormatChange? {
        let old = state.finder.format
        guard format != old else { return nil }
        state.finder = self.resumes ? ListenerStartFinder(format: format, resumingWith: nil) : ListenerStartFinder(format: format)
        return (old, format)
    }

    private func handle(_ notes: AppendNotes) {
        if let lost = notes.lost {
            self.logger.warning("segments lost upstream", metadata: ["segments.from": "\(lost.lowerBound)", "segments.to": "\(lost.upperBound - 1)"])
        }
        if let mismatch = notes.formatMismatch {
            self.logger.warning("\(mismatch)")
        }
        self.announce(context: notes.contextChanged, formatChange: notes.formatChanged)
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

    /// The stream now comes in another format (after a reconnect, the radio switched from a
    /// fallback file to the live source, say; or the first bytes contradicted the label): players
    /// that were announced another format are closed, since their decoders cannot follow.
    private func streamFormatChanged(from old: StreamFormat, to new: StreamFormat) {
        self.logger.info("the stream's format is now \(new.name)", metadata: ["stream.format.old": "\(old.name)"])
        for fanout in self.fanouts {
            fanout.loop.execute { fanout.closePlayers(notOf: new) }
        }
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

    /// Sets what the upstream said about the stream; sizes the ring to `ringSeconds` of its
    /// bitrate. The format follows the `Content-Type`; with `checkBytes` (the ingest, at every
    /// connection to the radio) the next segment's bytes confirm or correct it. Child peers hear
    /// of a changed context at once.
    public func setContext(_ context: StreamContext, checkBytes: Bool = false) {
        let (changed, formatChange) = self.state.withLockedValue { state -> (StreamContext?, FormatChange?) in
            if checkBytes {
                // Checked again with the first segment, which may correct the label.
                state.pendingContext = context
                defer { state.radioContext = context }
                // The radio's label as at its last connection: what its bytes said then stands
                // until they say otherwise (a mislabelled radio's reconnect closes no player).
                if context == state.radioContext { return (nil, nil) }
            }
            // The format players are told: a context without a content type says audio/mpeg.
            return self.apply(context, format: StreamFormat(contentType: context.contentType), to: &state)
        }
        self.announce(context: changed, formatChange: formatChange)
    }

    /// A change of the stream's format while listeners had the old one.
    typealias FormatChange = (from: StreamFormat, to: StreamFormat)

    /// Takes `context` and `format`; sizes the ring to `ringSeconds` of the bitrate. Returns the
    /// context if it changed, and the format change if listeners had the old format.
    private func apply(_ context: StreamContext, format: StreamFormat, to state: inout State) -> (StreamContext?, FormatChange?) {
        let changed = state.context != context ? context : nil
        state.context = context
        let formatChange = self.use(format: format, in: &state)
        let capacity = max((context.bitrate ?? 128) * 1000 / 8 * self.configuration.ringSeconds, 1)
        if state.ring.capacityBytes != capacity {
            var ring = SegmentRing<Entry>(capacityBytes: capacity)
            if let first = state.ring.firstSeq, let kept = state.ring.segments(from: first) {
                kept.forEach { ring.append($0) }
            }
            state.ring = ring
        }
        return (changed, formatChange)
    }

    /// After the lock: players of a format that changed are closed, child peers hear of a new context.
    private func announce(context: StreamContext?, formatChange: FormatChange?) {
        if let formatChange { self.streamFormatChanged(from: formatChange.from, to: formatChange.to) }
        if let context {
            for fanout in self.fanouts {
                fanout.loop.execute { fanout.contextChanged(context) }
            }
        }
    }

    /// Takes the Ogg header pages a parent sent (a mirror that joined mid-stream), unless this
    /// node follows a chain already.
    public func resume(codecHeaders pages: ByteBuffer) {
        let problem = self.state.withLockedValue { state -> String? in
            guard state.finder.format == .ogg, state.finder.currentHeaders == nil else { return nil }
            guard let headers = OggHeaders.parse(pages: pages) else {
                return "the parent's codec header pages (\(pages.readableBytes) bytes) are not a complete Ogg header set"
            }
            state.finder = ListenerStartFinder(format: .ogg, resumingWith: headers)
            return nil
        }
        if let problem { self.logger.warning("\(problem)") }
    }

    /// Takes the metadata text in force at the next segment (a mirror's join reply), so that its
    /// players' first metadata block names what they hear.
    public func resume(metadata: ByteBuffer) {
        let error = self.state.withLockedValue { state -> ICYError? in
            do throws(ICYError) {
                try state.title.update(metadata)
                return nil
            } catch {
                return error
            }
        }
        if let error { self.logger.warning("ignoring a title too long for one block", metadata: ["error": "\(error)"]) }
    }

    /// The context players and children get.
    public var context: StreamContext { self.state.withLockedValue { $0.context } }

    /// Records the upstream's state for the status report.
    public func setUpstreamState(_ upstream: UpstreamState) {
        self.state.withLockedValue { $0.upstream = upstream }
    }

    func join() -> Join {
        self.state.withLockedValue { state in
            let burst = Array(state.ring.newest(audioBytes: self.configuration.burstBytes))
            return Join(burst: burst, nextSeq: state.nextSeq, context: state.context)
        }
    }

    /// What a joining peer that wants segment `from` gets: the ring from there (or from its
    /// oldest segment, if `from` is gone), the number of its first segment, and the context.
    func peerJoin(from: UInt64?) -> PeerJoin {
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
            let headers = entries.first.map { $0.headersBefore } ?? state.finder.currentHeaders
            return PeerJoin(
                entries: entries,
                nextSeq: next,
                identity: state.identity,
                context: state.context,
                metadata: entries.first?.title.text ?? state.title.text,
                codecHeaders: headers?.pages
            )
        }
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
                title: state.finder.format == .ogg ? state.finder.oggTitle : state.title.title,
                format: state.finder.format,
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
        public var format: StreamFormat
        public var context: StreamContext
        public var upstream: UpstreamState
        public var listeners: Int
        public var bytesOut: Int
        public var uptime: Duration
    }
}
