import CastyICY
import DequeModule

/// A standby's two sources of audio joined at its takeover, as a pure value: while the standby
/// follows the root, the root's segments are what its listeners get, and its own radio
/// connection's segments are only kept (the newest ``ownBytesKept`` bytes of audio); when it
/// becomes root, the kept segments and every later one go through a ``ReconnectSplicer`` whose
/// tail is the root's last audio, so that the stream goes on from exactly the byte where the old
/// root stopped, the part already sent dropped, as after the ingest's own radio reconnect.
///
/// A radio sends the same bytes to every client, so the standby's connection holds the root's
/// audio, shifted. The splice succeeds when the kept audio starts within the root's tail (the
/// standby's connection is behind the root's, or ahead by less than what it keeps), or the
/// root's tail starts within the kept audio (a tail still short: the standby followed the root
/// for only a few seconds). Otherwise the own audio passes unchanged, and the splicer's outcome
/// says ``ReconnectSplicer/Outcome/noOverlap``.
///
/// After the takeover the spliced audio is cut again into segments of the radio's segment size
/// (``SegmentRechunker``), starting at the old root's last border, so that every segment the
/// standby numbers holds exactly the audio the old root's segment of that number held or would
/// have held: a mirror that got one more segment from the old root than the standby did goes on
/// with the standby's next one, without a gap or a repeat.
public struct TakeoverSplicer: Sendable {
    /// Own audio kept while following, in bytes.
    public let ownBytesKept: Int
    private var splicer: ReconnectSplicer
    private var kept: Deque<ICYSegment> = []
    private var keptBytes = 0
    /// The audio bytes of the last segment from the root.
    private var rootSegmentBytes = 0
    /// Cuts the spliced audio at the radio's segment size, once taken over.
    private var rechunker: SegmentRechunker?
    /// Whether ``takeOver()`` was called: own segments are the stream's now.
    public private(set) var tookOver = false

    /// A splicer comparing on the root's last `tailBytes` of audio (default 128 KiB), matching on
    /// `matchBytes`, and keeping `ownBytesKept` of the own connection's audio (default: half the
    /// tail).
    public init(tailBytes: Int = 128 * 1024, matchBytes: Int = 2048, ownBytesKept: Int? = nil) {
        self.splicer = ReconnectSplicer(tailBytes: tailBytes, matchBytes: matchBytes)
        self.ownBytesKept = ownBytesKept ?? tailBytes / 2
    }

    /// The outcome of the takeover's splice, once decided.
    public var lastOutcome: ReconnectSplicer.Outcome? { self.splicer.lastOutcome }

    /// A segment from the root, which listeners get: remembered as sent.
    public mutating func followed(_ segment: ICYSegment) {
        guard !self.tookOver else { return }
        self.rootSegmentBytes = segment.audio.readableBytes
        _ = self.splicer.process(segment)
    }

    /// A segment from the standby's own radio connection. Before the takeover it is kept and
    /// nothing is returned; after, it returns the segments to number and send now, in order.
    public mutating func own(_ segment: ICYSegment) -> [ICYSegment] {
        if self.tookOver { return self.cut(self.splicer.process(segment)) }
        self.kept.append(segment)
        self.keptBytes += segment.audio.readableBytes
        while self.keptBytes - (self.kept.first?.audio.readableBytes ?? 0) >= self.ownBytesKept, let first = self.kept.first {
            self.keptBytes -= first.audio.readableBytes
            self.kept.removeFirst()
        }
        return []
    }

    /// The standby's own radio connection reconnected. Before the takeover the kept audio is
    /// dropped (the new connection's burst would repeat it); after, it is the ingest's usual
    /// reconnect splice. Returns segments still held, to send first.
    public mutating func ownReconnected() -> [ICYSegment] {
        guard self.tookOver else {
            self.kept.removeAll()
            self.keptBytes = 0
            return []
        }
        return self.cut(self.splicer.reconnected())
    }

    /// The standby becomes root: returns the segments to number and send now (possibly none yet:
    /// the splice may wait for more of the own connection's audio).
    public mutating func takeOver() -> [ICYSegment] {
        guard !self.tookOver else { return [] }
        self.tookOver = true
        // The radio's segment size: what its own connection's decoder cuts (every kept segment
        // but a connection's last), else what the root sent.
        let size = self.kept.map(\.audio.readableBytes).max() ?? self.rootSegmentBytes
        if size > 0 { self.rechunker = SegmentRechunker(size: size) }
        var out = self.splicer.reconnected()
        out += self.splicer.process(contentsOf: self.kept)
        self.kept.removeAll()
        self.keptBytes = 0
        return self.cut(out)
    }

    private mutating func cut(_ segments: [ICYSegment]) -> [ICYSegment] {
        guard self.rechunker != nil else { return segments }
        return segments.flatMap { self.rechunker!.process($0) }
    }
}
