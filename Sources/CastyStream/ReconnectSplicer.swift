import CastyICY
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Joins a radio's stream across a reconnect without playing anything twice.
///
/// A radio server greets every new client with a burst of recent audio (Icecast: its last
/// 64 KiB, about 4 s at 128 kbps), so after the ingest reconnects, the first seconds it receives
/// are mostly audio it has already relayed. The splicer keeps the last `tailBytes` of audio it
/// let through; after ``reconnected()`` it holds the new connection's first segments until it
/// finds where they start in that tail, then drops the part already sent and lets the rest
/// through, so listeners hear the stream go on from exactly where it stopped. The new audio may
/// also start before the tail (a burst longer than the tail, or a tail still short): when the
/// tail's start is in the audio held so far (pass audio that arrives together in one call to
/// ``process(contentsOf:)``), everything up to the tail's end is dropped. If the two do not
/// overlap (the radio restarted, or the outage outlasted its burst), the new bytes pass
/// unchanged. A pure value: no I/O, no clock.
public struct ReconnectSplicer: Sendable {
    /// What happened at the last splice, for the log.
    public enum Outcome: Sendable, Equatable {
        /// The new connection's first `repeatedBytes` had been sent already and were dropped.
        case spliced(repeatedBytes: Int)
        /// The new connection's audio was not in the tail: it passed unchanged.
        case noOverlap
    }

    /// Repeats shorter than this are not looked for (a chance match is then too likely).
    static let shortestRepeat = 256
    /// Audio kept to compare a new connection with, in bytes.
    public let tailBytes: Int
    /// How many bytes must match before a position in the tail counts as a candidate.
    public let matchBytes: Int
    private var tail: [UInt8] = []
    private var held: [ICYSegment] = []
    private var heldAudio: [UInt8] = []
    private var splicing = false
    /// Metadata from dropped audio that no sent segment has carried yet.
    private var pendingMetadata: ByteBuffer?
    /// The outcome of the last splice, if one finished since the last reconnect.
    public private(set) var lastOutcome: Outcome?

    /// A splicer that remembers `tailBytes` of audio (default 128 KiB, 8 s at 128 kbps, twice
    /// Icecast's default burst) and matches on `matchBytes` (default 2 KiB). After a reconnect it
    /// holds at most twice `tailBytes` of the new connection's audio before deciding.
    public init(tailBytes: Int = 128 * 1024, matchBytes: Int = 2048) {
        precondition(matchBytes > 0 && tailBytes >= matchBytes, "ReconnectSplicer needs 0 < matchBytes <= tailBytes")
        self.tailBytes = tailBytes
        self.matchBytes = matchBytes
    }

    /// The segments that follow come from a new connection. Returns what was still held from the
    /// previous one (a connection that ended before its splice was decided), to be sent first.
    public mutating func reconnected() -> [ICYSegment] {
        let pending = self.releaseHeld()
        self.splicing = !self.tail.isEmpty
        self.lastOutcome = nil
        return pending
    }

    /// Takes the next segment from the upstream; returns the segments to send now, in order.
    public mutating func process(_ segment: ICYSegment) -> [ICYSegment] {
        self.process(contentsOf: CollectionOfOne(segment))
    }

    /// Takes the next segments from the upstream at once (audio that arrived together, such as
    /// a standby's kept audio); returns the segments to send now, in order. After a reconnect the
    /// splice is decided on all of them together, so a tail's start anywhere in them is found.
    public mutating func process(contentsOf segments: some Sequence<ICYSegment>) -> [ICYSegment] {
        var out: [ICYSegment] = []
        for segment in segments {
            guard self.splicing else {
                out.append(self.passed(segment))
                continue
            }
            self.held.append(segment)
            self.heldAudio.append(contentsOf: segment.audio.readableBytesView)
        }
        guard self.splicing, self.heldAudio.count >= self.matchBytes else { return out }
        switch self.findOverlap() {
        case .repeated(let repeated):
            self.lastOutcome = .spliced(repeatedBytes: repeated)
            return out + self.releaseHeld(dropping: repeated)
        case .none:
            self.lastOutcome = .noOverlap
            return out + self.releaseHeld()
        case .undecided:
            return out  // a candidate needs more of the new connection's audio to be checked
        }
    }

    /// A segment sent outside a splice: it carries a title left from dropped audio, and is remembered.
    private mutating func passed(_ segment: ICYSegment) -> ICYSegment {
        var segment = segment
        if let pending = self.pendingMetadata, segment.metadata.readableBytes == 0 {
            segment.metadata = pending
        }
        self.pendingMetadata = nil
        self.remember(segment.audio)
        return segment
    }

    /// How the new connection's audio overlaps what was sent before it.
    private enum Overlap {
        /// Its first `n` bytes were sent already.
        case repeated(Int)
        /// It does not repeat what was sent.
        case none
        /// Not known yet: a candidate needs more of the new connection's audio.
        case undecided
    }

    private func findOverlap() -> Overlap {
        var undecided = false
        let found: Int? = self.tail.withUnsafeBufferPointer { tail in
            self.heldAudio.withUnsafeBufferPointer { held in
                guard let tailBase = tail.baseAddress, let heldBase = held.baseAddress else { return nil }
                // The most recent candidate first: the shortest repeat that explains the bytes.
                var start = tail.count - self.matchBytes
                while start >= 0 {
                    if tail[start] == held[0], memcmp(tailBase + start, heldBase, self.matchBytes) == 0 {
                        let overlap = tail.count - start
                        if held.count < overlap {
                            undecided = true  // may be it; wait for more
                        } else if memcmp(tailBase + start, heldBase, overlap) == 0 {
                            return overlap
                        }
                    }
                    start -= 1
                }
                // The new connection started before the tail (its burst is longer than the tail,
                // or the tail is short because little was sent yet): the tail's start is then in
                // the held audio, the earliest such place first (the fewest bytes dropped). Only
                // audio already held is searched: a tail's start still to come is not waited for.
                if !undecided, tail.count >= self.matchBytes {
                    var start = 1
                    while start + self.matchBytes <= held.count {
                        if held[start] == tail[0], memcmp(heldBase + start, tailBase, self.matchBytes) == 0 {
                            let common = min(held.count - start, tail.count)
                            if memcmp(heldBase + start, tailBase, common) == 0 {
                                if common == tail.count { return start + tail.count }
                                undecided = true  // the held audio does not reach the tail's end yet
                                return nil
                            }
                        }
                        start += 1
                    }
                }
                // A repeat shorter than matchBytes: the tail's end is the held audio's start.
                var overlap = min(self.matchBytes - 1, tail.count, held.count)
                while overlap >= Self.shortestRepeat {
                    if memcmp(tailBase + tail.count - overlap, heldBase, overlap) == 0 { return overlap }
                    overlap -= 1
                }
                return nil
            }
        }
        if let found { return .repeated(found) }
        // Undecided only while the held audio could still complete a candidate: one starting in
        // the tail within the tail's length, one holding the tail's start within twice that.
        if undecided && self.heldAudio.count < 2 * self.tail.count { return .undecided }
        return .none
    }

    /// Ends the splice: sends the held segments, less their first `dropping` bytes of audio.
    /// Metadata of a segment whose audio is dropped entirely rides on the next one sent, so no
    /// title change is lost.
    private mutating func releaseHeld(dropping: Int = 0) -> [ICYSegment] {
        var toDrop = dropping
        var carriedMetadata = self.pendingMetadata
        var out: [ICYSegment] = []
        for var segment in self.held {
            if toDrop > 0 {
                let cut = min(toDrop, segment.audio.readableBytes)
                segment.audio.moveReaderIndex(forwardBy: cut)
                toDrop -= cut
            }
            if segment.metadata.readableBytes == 0, let carried = carriedMetadata {
                segment.metadata = carried
            }
            carriedMetadata = nil
            if segment.audio.readableBytes == 0 {
                if segment.metadata.readableBytes > 0 { carriedMetadata = segment.metadata }
                continue
            }
            self.remember(segment.audio)
            out.append(segment)
        }
        // A title that changed in dropped audio rides on the next segment to come.
        self.pendingMetadata = carriedMetadata
        self.held.removeAll()
        self.heldAudio.removeAll()
        self.splicing = false
        return out
    }

    private mutating func remember(_ audio: ByteBuffer) {
        self.tail.append(contentsOf: audio.readableBytesView)
        if self.tail.count > self.tailBytes {
            self.tail.removeFirst(self.tail.count - self.tailBytes)
        }
    }
}
