import DequeModule

/// What a ``SegmentRing`` holds: something numbered, with a size in audio bytes.
public protocol RingElement: Sendable {
    /// The element's number; consecutive elements have consecutive numbers.
    var seq: UInt64 { get }
    /// The audio bytes it holds, which count against the ring's capacity.
    var audioByteCount: Int { get }
}

extension NumberedSegment: RingElement {
    public var audioByteCount: Int { self.segment.audio.readableBytes }
}

/// The most recent segments of a stream, kept for new listeners' burst and for peers that must
/// catch up. Bounded by the total audio bytes it holds; the oldest segments go first.
public struct SegmentRing<Element: RingElement>: Sendable {
    /// The most audio bytes kept.
    public let capacityBytes: Int
    private var segments: Deque<Element> = []
    private(set) public var audioBytes = 0

    /// Creates an empty ring that keeps about `capacityBytes` of audio (at least one segment).
    public init(capacityBytes: Int) {
        precondition(capacityBytes > 0, "the ring must hold some audio")
        self.capacityBytes = capacityBytes
    }

    /// The number of the oldest segment kept, if any.
    public var firstSeq: UInt64? { self.segments.first?.seq }
    /// The number of the newest segment kept, if any.
    public var lastSeq: UInt64? { self.segments.last?.seq }
    /// The number of segments kept.
    public var count: Int { self.segments.count }

    /// Appends the next segment; its number must follow the newest one's.
    public mutating func append(_ segment: Element) {
        precondition(self.lastSeq.map { segment.seq == $0 + 1 } ?? true, "segments must be appended in order without gaps")
        self.segments.append(segment)
        self.audioBytes += segment.audioByteCount
        while self.audioBytes > self.capacityBytes, self.segments.count > 1 {
            self.audioBytes -= self.segments.removeFirst().audioByteCount
        }
    }

    /// Removes everything (for a new stream identity).
    public mutating func removeAll() {
        self.segments.removeAll()
        self.audioBytes = 0
    }

    /// The segment numbered `seq`, if it is still kept.
    public subscript(seq seq: UInt64) -> Element? {
        guard let first = self.firstSeq, seq >= first, seq - first < UInt64(self.segments.count) else { return nil }
        return self.segments[Int(seq - first)]
    }

    /// The kept segments numbered `seq` and later, oldest first; empty if `seq` is newer than all.
    /// If `seq` is older than the oldest kept, `nil`: the caller has lost segments.
    public func segments(from seq: UInt64) -> [Element]? {
        guard let first = self.firstSeq, let last = self.lastSeq else { return [] }
        if seq < first { return nil }
        if seq > last { return [] }
        return Array(self.segments[Int(seq - first)...])
    }

    /// The newest segments that together hold at least `bytes` of audio (all of them if fewer),
    /// oldest first: what a new listener gets as its burst.
    public func newest(audioBytes bytes: Int) -> ArraySlice<Element> {
        var total = 0
        var start = self.segments.endIndex
        while start > self.segments.startIndex, total < bytes {
            start -= 1
            total += self.segments[start].audioByteCount
        }
        return ArraySlice(self.segments[start...])
    }
}
