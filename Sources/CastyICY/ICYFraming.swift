/// How the body of an ICY stream is cut into segments.
public enum ICYFraming: Hashable, Sendable {
    /// `interval` bytes of audio, then one metadata block (the stream had `icy-metaint: interval`).
    case metadata(interval: Int)
    /// No metadata in the stream: segments of exactly `segmentSize` audio bytes.
    case audioOnly(segmentSize: Int)

    /// The number of audio bytes in every segment.
    public var audioBytesPerSegment: Int {
        switch self {
        case .metadata(let interval): return interval
        case .audioOnly(let size): return size
        }
    }
}
