import CastyICY
import CastyMedia
import CastyStream
import NIOCore

/// Decodes a radio's reply: checks its head, then cuts its body into segments, drops what a
/// reconnect repeats, and hands each segment straight to its ``RadioSink`` (the second of a
/// segment's hops at the ingest, after ``CurlTransfer``). A playlist (`.pls`, `.m3u`, `.m3u8`, or a
/// playlist content type) is read whole instead, and the transfer ends with its entries
/// (``UpstreamFailure/playlist(entries:)``) for the puller to follow.
///
/// The ``ReconnectSplicer`` lives across transfers: the puller lends it to each transfer's handler
/// and takes it back (``splicer``) once the transfer ended. What the puller hears of a transfer
/// are its one-off events (``UpstreamEvent``), never its segments.
public final class ICYStreamHandler: CurlStreamHandler {
    private let url: String
    private let limits: ICYDecoderLimits
    private let audioOnlySegmentSize: Int
    private let sink: any RadioSink
    private let onEvent: (UpstreamEvent) -> Void
    private var segments: NIOSingleStepByteToMessageProcessor<ICYSegmentDecoder>?
    /// The body of a playlist being read, when the reply is one.
    private var playlist: ByteBuffer?
    /// The splicer lent for this transfer, as this transfer left it.
    public private(set) var splicer: ReconnectSplicer
    /// The segments cut from this transfer's body so far (before the splice).
    public private(set) var segmentsReceived = 0

    /// Creates a handler for the transfer of `url` that hands every segment to `sink` and reports
    /// the connection and the splice's outcome through `onEvent`.
    ///
    /// - Parameters:
    ///   - splicer: the splicer lent by the puller for this transfer (take it back from
    ///     ``splicer`` afterwards): the transfer counts as a reconnect once its head is accepted.
    ///   - sink: where the head and the segments go.
    ///   - onEvent: the one-off events of the transfer, on the transfer's thread.
    public init(
        url: String = "",
        limits: ICYDecoderLimits = ICYDecoderLimits(),
        audioOnlySegmentSize: Int,
        splicer: ReconnectSplicer = ReconnectSplicer(),
        sink: any RadioSink,
        onEvent: @escaping (UpstreamEvent) -> Void = { _ in }
    ) {
        self.url = url
        self.limits = limits
        self.audioOnlySegmentSize = audioOnlySegmentSize
        self.splicer = splicer
        self.sink = sink
        self.onEvent = onEvent
    }

    public func received(head: ICYResponseHead) throws(UpstreamFailure) {
        if (200..<300).contains(head.status.code),
            Playlist.isPlaylist(contentType: head.headers.first(name: "content-type"), url: self.url, firstBytes: [UInt8]())
        {
            self.playlist = ByteBuffer()
            return
        }
        let framing: ICYFraming
        do {
            framing = try ICYFraming.of(head, limits: self.limits, audioOnlySegmentSize: self.audioOnlySegmentSize)
        } catch {
            if case .unexpectedStatus(let code) = error.kind { throw .status(code: code, line: head.status.description) }
            throw .framing(error)
        }
        self.segments = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: framing))
        self.onEvent(.connected(head, framing: framing))
        // What the last connection's splice still held goes first, in that connection's context.
        for segment in self.splicer.reconnected() { self.sink.publish(segment) }
        self.sink.connected(head: head)
    }

    public func received(body: ByteBuffer) throws(UpstreamFailure) {
        if var playlist = self.playlist {
            self.playlist = nil  // keeps the buffer uniquely referenced while it grows
            guard playlist.readableBytes + body.readableBytes <= Playlist.maxBytes else {
                throw .notAStream("\(self.url) is a playlist of more than \(Playlist.maxBytes) bytes; give the stream's own URL")
            }
            playlist.writeImmutableBuffer(body)
            self.playlist = playlist
            return
        }
        do {
            try self.segments?.process(buffer: body) { self.cut($0) }
        } catch let error as ICYError {
            throw .framing(error)
        } catch {
            throw .transport(code: -1, message: "\(error)")
        }
    }

    public func finished() throws(UpstreamFailure) {
        if let playlist = self.playlist {
            let entries: [String]
            do throws(PlaylistError) {
                entries = try Playlist.parse(playlist.readableBytesView, baseURL: self.url)
            } catch {
                throw .notAStream("\(self.url): \(error.message)")
            }
            throw .playlist(entries: entries)
        }
        // A radio that closes mid-segment loses that segment's tail: not worth an error of its own.
        try? self.segments?.finishProcessing(seenEOF: true) { self.cut($0) }
    }

    /// A segment cut from the body: spliced, and what passes goes to the sink.
    private func cut(_ segment: ICYSegment) {
        self.segmentsReceived += 1
        let deciding = self.splicer.lastOutcome == nil
        for out in self.splicer.process(segment) { self.sink.publish(out) }
        if deciding, let outcome = self.splicer.lastOutcome { self.onEvent(.spliced(outcome)) }
    }
}
