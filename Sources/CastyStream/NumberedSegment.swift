import CastyICY

/// A segment with the number the ingest gave it. Numbers start at 0 for a stream identity and
/// grow by one for every segment, across upstream reconnects.
public struct NumberedSegment: Hashable, Sendable {
    /// The segment's number in its stream.
    public var seq: UInt64
    /// The audio and metadata.
    public var segment: ICYSegment

    /// Creates a numbered segment.
    public init(seq: UInt64, segment: ICYSegment) {
        self.seq = seq
        self.segment = segment
    }
}
