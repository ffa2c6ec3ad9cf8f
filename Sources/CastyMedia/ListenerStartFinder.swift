import NIOCore

/// Where a new listener may begin within one segment's audio, and what it must be sent first.
public struct ListenerStart: Sendable, Equatable {
    /// The offset into the segment's audio of the first byte the listener gets.
    public var offset: Int
    /// Bytes to send before that: an Ogg chain's header pages, or `nil` when the audio from
    /// `offset` on decodes by itself (an MP3 or ADTS frame, the first page of an Ogg chain).
    public var prefix: ByteBuffer?

    /// Creates a start.
    public init(offset: Int, prefix: ByteBuffer? = nil) {
        self.offset = offset
        self.prefix = prefix
    }
}

/// Follows a node's stream segment by segment, whatever its format, and says where in each
/// segment a new listener (a player, or the audio a new child will hand its players) may start:
/// on an MP3 or ADTS frame confirmed by the next one, on an Ogg page after the chain's header
/// pages, anywhere in an opaque stream. For Ogg it also keeps the header pages in force and the
/// title from their comment header.
///
/// A pure value fed in stream order; one per node, kept under the hub's lock.
public struct ListenerStartFinder: Sendable {
    /// What one segment taught.
    public struct Observation: Sendable, Equatable {
        /// Where a listener may start in this segment, if anywhere.
        public var start: ListenerStart?
        /// The Ogg header set in force before this segment: what a child joining at this segment
        /// needs (its pages are sent as a `codecHeaders` frame).
        public var headersBefore: OggHeaders?
        /// An Ogg chain whose headers became complete in this segment (a new track).
        public var newHeaders: OggHeaders?
        /// What went wrong, as sentences for the log.
        public var problems: [String] = []
    }

    /// The format followed.
    public let format: StreamFormat
    private var ogg: OggStreamTracker?
    /// Segments in a row in which no listener could start.
    private var withoutStart = 0
    /// After this many segments in a row without a place to start, the stream is said to be odd.
    public static let segmentsWithoutStartToReport = 4

    /// A finder for a stream of `format`, read from its first byte (at the ingest).
    public init(format: StreamFormat) {
        self.format = format
        self.ogg = format == .ogg ? OggStreamTracker() : nil
    }

    /// A finder for a node that joins a stream in its middle (a mirror): an Ogg stream is resumed
    /// with the header pages its parent sent (`headers`, parsed with ``OggHeaders/parse(pages:)``),
    /// and may begin inside a page.
    public init(format: StreamFormat, resumingWith headers: OggHeaders?) {
        self.format = format
        self.ogg = format == .ogg ? OggStreamTracker(resumingWith: headers) : nil
    }

    /// The Ogg header set in force now (`nil` for other formats, or before a chain's headers are
    /// complete).
    public var currentHeaders: OggHeaders? { self.ogg?.current }

    /// The title the Ogg comment header gives (`ARTIST - TITLE`), if any.
    public var oggTitle: String? { self.ogg?.current?.title }

    /// Reads the next segment's audio.
    public mutating func observe(_ audio: ByteBuffer) -> Observation {
        var observation: Observation
        switch self.format {
        case .mp3, .aac:
            let offset = audio.withUnsafeReadableBytes { self.format.startOffset(in: $0) }
            observation = Observation(start: offset.map { ListenerStart(offset: $0) })
        case .opaque:
            observation = Observation(start: ListenerStart(offset: 0))
        case .ogg:
            let before = self.ogg?.current
            let result = self.ogg!.feed(audio)
            // The first page of a chain is a start only when the chain's header set is complete
            // within this segment: a chain whose headers turn out broken must not be started on.
            // Otherwise the first audio page, with the headers sent first, is the start.
            let start = result.starts.first { start in
                start.offset >= 0 && (start.headers != nil || result.newHeaders != nil)
            }
            observation = Observation(
                start: start.map { ListenerStart(offset: $0.offset, prefix: $0.headers?.pages) },
                headersBefore: before,
                newHeaders: result.newHeaders,
                problems: result.problems
            )
        }
        if observation.start == nil {
            self.withoutStart += 1
            if self.withoutStart == Self.segmentsWithoutStartToReport {
                let what = self.format == .ogg ? "an Ogg page to start on" : "\(self.format.name) frames"
                observation.problems.append(
                    "no \(what) in the last \(self.withoutStart) segments: new listeners get nothing until there is; is the stream really \(self.format.name)?"
                )
            }
        } else {
            self.withoutStart = 0
        }
        return observation
    }
}

extension OggHeaders {
    /// The header set that `pages` (a chain's header pages, as a parent sends them in a
    /// `codecHeaders` frame) make, or `nil` if they are not a complete set.
    public static func parse(pages: ByteBuffer) -> OggHeaders? {
        var tracker = OggStreamTracker()
        _ = tracker.feed(pages)
        _ = tracker.finish()
        return tracker.current
    }
}
