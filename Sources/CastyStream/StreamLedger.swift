import CastyICY
import CastyMedia
import NIOCore

/// A node's stream as a pure value: its identity, the numbering of its segments, the ring of
/// recent ones (each with the title in force while it plays, where a new listener may start in it,
/// and the Ogg header set before it), the context its upstream sent, and the format it follows.
///
/// It decides everything about a segment's arrival (its number, a repeat, a loss, a title change,
/// a format the bytes contradict) and returns what happened as ``Notes``; it does no I/O, holds no
/// lock and logs nothing, so that its caller (the node's hub) does those once, outside its lock.
public struct StreamLedger: Sendable {
    /// A segment with what a listener needs to be served from it.
    public struct Entry: RingElement {
        /// The segment and its number.
        public var numbered: NumberedSegment
        /// The title that was current while its audio played.
        public var title: TitleBlock
        /// Where a new listener may start in its audio, if anywhere.
        public var start: ListenerStart?
        /// The Ogg header set in force before it (an Ogg stream).
        public var headersBefore: OggHeaders?

        /// Creates an entry.
        public init(numbered: NumberedSegment, title: TitleBlock, start: ListenerStart? = nil, headersBefore: OggHeaders? = nil) {
            self.numbered = numbered
            self.title = title
            self.start = start
            self.headersBefore = headersBefore
        }

        /// The segment's number.
        public var seq: UInt64 { self.numbered.seq }
        /// Audio bytes in the segment.
        public var audioByteCount: Int { self.numbered.segment.audio.readableBytes }
    }

    /// What a joining player gets: recent audio and the context.
    public struct Join: Sendable {
        /// The newest segments, about the burst's size of audio.
        public var burst: [Entry]
        /// The number of the next segment to come.
        public var nextSeq: UInt64?
        /// The upstream's context (headers).
        public var context: StreamContext
        /// The format the player is announced (its `Content-Type`'s): a later change of the
        /// stream's format to another closes it.
        public var format: StreamFormat { StreamFormat(contentType: self.context.contentType) }
    }

    /// What a joining peer gets: the ring from the segment it wants, and what it needs to serve
    /// from there.
    public struct PeerJoin: Sendable {
        /// The segments to send at once.
        public var entries: [Entry]
        /// The number of the first segment it gets.
        public var nextSeq: UInt64?
        /// The stream's identity.
        public var identity: StreamIdentity
        /// The upstream's context (headers).
        public var context: StreamContext
        /// The metadata text in force at the first segment sent (empty: none).
        public var metadata: ByteBuffer
        /// The Ogg header pages in force at the first segment sent.
        public var codecHeaders: ByteBuffer?
    }

    /// A change of the stream's format while listeners had the old one.
    public struct FormatChange: Sendable, Equatable {
        /// The format followed until now.
        public var from: StreamFormat
        /// The format followed from now on.
        public var to: StreamFormat

        /// Creates a change.
        public init(from: StreamFormat, to: StreamFormat) {
            self.from = from
            self.to = to
        }
    }

    /// What taking a segment or a context found that is worth a log line or an action.
    public struct Notes: Sendable {
        /// Segments that never arrived (a mirror's parent skipped them).
        public var lost: Range<UInt64>?
        /// The radio's label and its first bytes disagree; the bytes won.
        public var formatMismatch: String?
        /// The context changed: child peers must hear of it.
        public var contextChanged: StreamContext?
        /// The stream's format changed: players' decoders cannot follow.
        public var formatChanged: FormatChange?
        /// A new Ogg chain began, with this title.
        public var newOggTitle: String?
        /// Damage the format's checks found.
        public var problems: [String] = []
        /// A title too long for one metadata block, ignored.
        public var titleError: ICYError?

        /// Creates empty notes.
        public init() {}
    }

    /// This stream's identity.
    public private(set) var identity: StreamIdentity
    /// The number the next segment will carry; `nil` at a mirror that has no stream yet.
    public private(set) var nextSeq: UInt64?
    /// The context players and children get.
    public private(set) var context = StreamContext()
    /// The recent segments.
    public private(set) var ring: SegmentRing<Entry>
    /// The title block in force now.
    public private(set) var title = TitleBlock()
    /// Where listeners may start, for the stream's format.
    private var finder: ListenerStartFinder
    /// The radio's context of a new connection (the ingest), in force at once and checked
    /// against its first segment's bytes, which may correct its `Content-Type`.
    private var pendingContext: StreamContext?
    /// The context the radio sent at its last connection, as it sent it.
    private var radioContext: StreamContext?
    /// Whether this node joins a stream in its middle (a mirror), rather than from a radio's
    /// first byte (the ingest).
    private let resumes: Bool
    /// Audio kept in the ring, in seconds of the stream's bitrate.
    private let ringSeconds: Int

    /// Creates the ledger of a new stream.
    ///
    /// - Parameters:
    ///   - identity: the stream's identity.
    ///   - nextSeq: the first number to give (0 at an ingest), or `nil` at a mirror, which takes
    ///     its numbers from its parent.
    ///   - ringSeconds: audio kept in the ring, in seconds of the stream's bitrate.
    public init(identity: StreamIdentity, nextSeq: UInt64?, ringSeconds: Int) {
        self.identity = identity
        self.nextSeq = nextSeq
        self.resumes = nextSeq == nil
        self.ringSeconds = ringSeconds
        self.ring = SegmentRing<Entry>(capacityBytes: max(ringSeconds * 16_000, 1))
        self.finder = nextSeq == nil ? ListenerStartFinder(format: .mp3, resumingWith: nil) : ListenerStartFinder(format: .mp3)
    }

    /// The format followed now.
    public var format: StreamFormat { self.finder.format }

    /// The title to report: an Ogg chain's own, else the last ICY title.
    public var currentTitle: String? { self.finder.format == .ogg ? self.finder.oggTitle : self.title.title }

    /// Numbers the next segment from the radio (the ingest's way).
    public mutating func publish(_ segment: ICYSegment) -> (Entry, Notes) {
        self.append(seq: self.nextSeq ?? 0, segment: segment)
    }

    /// Takes segment `seq` from the parent (a mirror's way). A number already had is refused
    /// (`nil`: no repeat); a number past the next expected one empties the ring and notes the loss.
    public mutating func receive(seq: UInt64, segment: ICYSegment) -> (Entry, Notes)? {
        guard let next = self.nextSeq else { return self.append(seq: seq, segment: segment) }
        if seq < next { return nil }
        guard seq > next else { return self.append(seq: seq, segment: segment) }
        self.ring.removeAll()
        var (entry, notes) = self.append(seq: seq, segment: segment)
        notes.lost = next..<seq
        return (entry, notes)
    }

    /// Starts following a new stream identity (a restarted ingest): the ring is emptied.
    ///
    /// - Returns: whether the identity changed.
    public mutating func reset(identity: StreamIdentity, nextSeq: UInt64?) -> Bool {
        guard self.identity != identity else { return false }
        self.identity = identity
        self.ring.removeAll()
        self.nextSeq = nextSeq
        self.finder = ListenerStartFinder(format: self.finder.format, resumingWith: nil)
        return true
    }

    /// Takes what the upstream said about the stream; sizes the ring to `ringSeconds` of its
    /// bitrate. The format follows the `Content-Type`; with `checkBytes` (the ingest, at every
    /// connection to the radio) the next segment's bytes confirm or correct it.
    ///
    /// - Returns: the context change for child peers, and a format change for players.
    public mutating func setContext(_ context: StreamContext, checkBytes: Bool = false) -> Notes {
        var notes = Notes()
        if checkBytes {
            // Checked again with the first segment, which may correct the label.
            self.pendingContext = context
            defer { self.radioContext = context }
            // The radio's label as at its last connection: what its bytes said then stands
            // until they say otherwise (a mislabelled radio's reconnect closes no player).
            if context == self.radioContext { return notes }
        }
        // The format players are told: a context without a content type says audio/mpeg.
        (notes.contextChanged, notes.formatChanged) = self.apply(context, format: StreamFormat(contentType: context.contentType))
        return notes
    }

    /// Takes the Ogg header pages a parent sent (a mirror that joined mid-stream), unless this
    /// node follows a chain already.
    ///
    /// - Returns: what is wrong with the pages, if they are not a header set.
    public mutating func resume(codecHeaders pages: ByteBuffer) -> String? {
        guard self.finder.format == .ogg, self.finder.currentHeaders == nil else { return nil }
        guard let headers = OggHeaders.parse(pages: pages) else {
            return "the parent's codec header pages (\(pages.readableBytes) bytes) are not a complete Ogg header set"
        }
        self.finder = ListenerStartFinder(format: .ogg, resumingWith: headers)
        return nil
    }

    /// Takes the metadata text in force at the next segment (a mirror's join reply), so that its
    /// players' first metadata block names what they hear.
    public mutating func resume(metadata: ByteBuffer) throws(ICYError) {
        try self.title.update(metadata)
    }

    /// What a joining player gets: about `burstBytes` of the newest audio.
    public func join(burstBytes: Int) -> Join {
        Join(burst: Array(self.ring.newest(audioBytes: burstBytes)), nextSeq: self.nextSeq, context: self.context)
    }

    /// What a joining peer that wants segment `from` gets: the ring from there (or from its
    /// oldest segment, if `from` is gone), the number of its first segment, and the context.
    public func peerJoin(from: UInt64?) -> PeerJoin {
        var entries: [Entry] = []
        var next = self.nextSeq
        if let from {
            if let kept = self.ring.segments(from: from) {
                entries = kept
                next = from
            } else if let first = self.ring.firstSeq, from < first, let kept = self.ring.segments(from: first) {
                entries = kept
                next = first
            } else {
                next = from  // newer than anything here: wait for it
            }
        }
        let headers = entries.first.map { $0.headersBefore } ?? self.finder.currentHeaders
        return PeerJoin(
            entries: entries,
            nextSeq: next,
            identity: self.identity,
            context: self.context,
            metadata: entries.first?.title.text ?? self.title.text,
            codecHeaders: headers?.pages
        )
    }

    /// The segments from `seq` on, if the ring still has `seq`.
    public func entries(from seq: UInt64) -> [Entry]? {
        self.ring.segments(from: seq)
    }

    private mutating func append(seq: UInt64, segment: ICYSegment) -> (Entry, Notes) {
        var notes = Notes()
        if var context = self.pendingContext {
            // The ingest's first segment of a connection: the bytes may contradict the label.
            self.pendingContext = nil
            let check = segment.audio.withUnsafeReadableBytes {
                StreamFormat.Check(contentType: context.headers.first(name: "content-type"), firstBytes: $0)
            }
            if let mismatch = check.mismatch {
                notes.formatMismatch = mismatch
                if let type = check.format.contentType {
                    context.headers.replaceOrAdd(name: "Content-Type", value: type)
                }
            }
            (notes.contextChanged, notes.formatChanged) = self.apply(context, format: check.format)
        }
        let observation = self.finder.observe(segment.audio)
        notes.problems = observation.problems
        if let headers = observation.newHeaders { notes.newOggTitle = headers.title }
        // A metadata block names what plays *after* it: this segment's audio keeps the old title,
        // except before the stream's first title (a radio's burst precedes its first metadata
        // block): that audio is named by the first title too, so a player's first block never is
        // empty once a title is known.
        var title = self.title
        if segment.metadata.readableBytes > 0 {
            do {
                try self.title.update(segment.metadata)
            } catch {
                notes.titleError = error
            }
            if title.version == 0 { title = self.title }
        }
        let entry = Entry(
            numbered: NumberedSegment(seq: seq, segment: segment),
            title: title,
            start: observation.start,
            headersBefore: observation.headersBefore
        )
        self.nextSeq = seq + 1
        self.ring.append(entry)
        return (entry, notes)
    }

    /// Takes `context` and `format`; sizes the ring to `ringSeconds` of the bitrate. Returns the
    /// context if it changed, and the format change if listeners had the old format.
    private mutating func apply(_ context: StreamContext, format: StreamFormat) -> (StreamContext?, FormatChange?) {
        let changed = self.context != context ? context : nil
        self.context = context
        var formatChange: FormatChange?
        if format != self.finder.format {
            formatChange = FormatChange(from: self.finder.format, to: format)
            self.finder = self.resumes ? ListenerStartFinder(format: format, resumingWith: nil) : ListenerStartFinder(format: format)
        }
        let capacity = max((context.bitrate ?? 128) * 1000 / 8 * self.ringSeconds, 1)
        if self.ring.capacityBytes != capacity {
            var ring = SegmentRing<Entry>(capacityBytes: capacity)
            if let first = self.ring.firstSeq, let kept = self.ring.segments(from: first) {
                kept.forEach { ring.append($0) }
            }
            self.ring = ring
        }
        return (changed, formatChange)
    }
}
