import CastyICY
import CastyMedia
import NIOCore

/// Decodes a radio's reply: checks its head, then cuts its body into segments. A playlist
/// (`.pls`, `.m3u`, `.m3u8`, or a playlist content type) is read whole instead, and the transfer
/// ends with its entries (``UpstreamFailure/playlist(entries:)``) for the puller to follow.
public final class ICYStreamHandler: CurlStreamHandler {
    private let url: String
    private let limits: ICYDecoderLimits
    private let audioOnlySegmentSize: Int
    private let onEvent: (UpstreamEvent) -> Void
    private var segments: NIOSingleStepByteToMessageProcessor<ICYSegmentDecoder>?
    /// The body of a playlist being read, when the reply is one.
    private var playlist: ByteBuffer?

    /// Creates a handler for the transfer of `url` that reports the head and every segment
    /// through `onEvent`.
    public init(url: String = "", limits: ICYDecoderLimits = ICYDecoderLimits(), audioOnlySegmentSize: Int, onEvent: @escaping (UpstreamEvent) -> Void) {
        self.url = url
        self.limits = limits
        self.audioOnlySegmentSize = audioOnlySegmentSize
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
            try self.segments?.process(buffer: body) { self.onEvent(.segment($0)) }
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
        try? self.segments?.finishProcessing(seenEOF: true) { self.onEvent(.segment($0)) }
    }
}
