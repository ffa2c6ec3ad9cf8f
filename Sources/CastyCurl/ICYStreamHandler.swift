import CastyICY
import NIOCore

/// Decodes a radio's reply: checks its head, then cuts its body into segments.
public final class ICYStreamHandler: CurlStreamHandler {
    private let limits: ICYDecoderLimits
    private let audioOnlySegmentSize: Int
    private let onEvent: (UpstreamEvent) -> Void
    private var segments: NIOSingleStepByteToMessageProcessor<ICYSegmentDecoder>?

    /// Creates a handler that reports the head and every segment through `onEvent`.
    public init(limits: ICYDecoderLimits = ICYDecoderLimits(), audioOnlySegmentSize: Int, onEvent: @escaping (UpstreamEvent) -> Void) {
        self.limits = limits
        self.audioOnlySegmentSize = audioOnlySegmentSize
        self.onEvent = onEvent
    }

    public func received(head: ICYResponseHead) throws(UpstreamFailure) {
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
        do {
            try self.segments?.process(buffer: body) { self.onEvent(.segment($0)) }
        } catch let error as ICYError {
            throw .framing(error)
        } catch {
            throw .transport(code: -1, message: "\(error)")
        }
    }

    public func finished() throws(UpstreamFailure) {
        // A radio that closes mid-segment loses that segment's tail: not worth an error of its own.
        try? self.segments?.finishProcessing(seenEOF: true) { self.onEvent(.segment($0)) }
    }
}
