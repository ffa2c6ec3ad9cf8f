import NIOCore

/// Decodes a whole ICY reply from bytes split anywhere: the head (`ICY 200 OK`, `HTTP/1.0 200 OK`
/// or `HTTP/1.1 200 OK`, then headers), then the body as segments.
///
/// The body is framed by `icy-metaint`. A reply without it is refused with `missingMetaint`,
/// unless `audioOnlySegmentSize` is given, in which case the body is cut into audio-only
/// segments of that size. A non-2xx status is refused with `unexpectedStatus` (its body is not
/// a stream).
public struct ICYResponseDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ICYResponsePart

    private enum State {
        case head(ICYResponseHeadDecoder)
        case body(ICYSegmentDecoder)
    }

    private var state: State
    private let limits: ICYDecoderLimits
    private let audioOnlySegmentSize: Int?

    /// Creates a decoder.
    ///
    /// - Parameters:
    ///   - limits: bounds on head size and on `icy-metaint`.
    ///   - audioOnlySegmentSize: the segment size for streams that carry no `icy-metaint`;
    ///     `nil` refuses such streams.
    public init(limits: ICYDecoderLimits = ICYDecoderLimits(), audioOnlySegmentSize: Int? = nil) {
        precondition(audioOnlySegmentSize.map { $0 > 0 } ?? true, "the audio-only segment size must be positive")
        self.limits = limits
        self.audioOnlySegmentSize = audioOnlySegmentSize
        self.state = .head(ICYResponseHeadDecoder(limits: limits))
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ICYResponsePart? {
        switch self.state {
        case .body(var segments):
            let segment = segments.decodeSegment(buffer: &buffer)
            self.state = .body(segments)
            return segment.map(ICYResponsePart.segment)
        case .head(var decoder):
            let head = try decoder.decodeHead(buffer: &buffer)
            self.state = .head(decoder)
            guard let head else { return nil }
            let framing = try ICYFraming.of(head, limits: self.limits, audioOnlySegmentSize: self.audioOnlySegmentSize, offset: decoder.offset)
            self.state = .body(ICYSegmentDecoder(framing: framing, startOffset: decoder.offset))
            return .head(head, framing: framing)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ICYResponsePart? {
        switch self.state {
        case .body(var segments):
            let segment = try segments.decodeLast(buffer: &buffer, seenEOF: seenEOF)
            self.state = .body(segments)
            return segment.map(ICYResponsePart.segment)
        case .head:
            // Decode with the current state (not a copy taken before): it may take the whole head.
            if let part = try self.decode(buffer: &buffer) { return part }
            guard case .head(let decoder) = self.state else { return nil }
            throw ICYError(.truncated, offset: decoder.offset, detail: "the stream ended before the end of the reply head")
        }
    }
}

extension ICYFraming {
    /// How the body of a reply with this head is cut: by its `icy-metaint`, or, without one, into
    /// `audioOnlySegmentSize` segments when that is given.
    ///
    /// - Throws: ``ICYError`` `unexpectedStatus` for a non-2xx reply, `invalidMetaint`, or
    ///   `missingMetaint` when there is no `icy-metaint` and no audio-only size.
    public static func of(_ head: ICYResponseHead, limits: ICYDecoderLimits = ICYDecoderLimits(), audioOnlySegmentSize: Int?, offset: Int = 0) throws(ICYError) -> ICYFraming {
        guard head.status.isSuccess else {
            throw ICYError(.unexpectedStatus(code: head.status.code), offset: 0, detail: "the server answered '\(head.status)' instead of 200 OK")
        }
        if let raw = head.metaintValue {
            return .metadata(interval: try ICYResponseHead.validateMetaint(raw, limits: limits, offset: offset))
        }
        if let size = audioOnlySegmentSize {
            return .audioOnly(segmentSize: size)
        }
        throw ICYError(
            .missingMetaint,
            offset: offset,
            detail: "the reply has no icy-metaint header; send 'Icy-MetaData: 1' or accept audio-only streams"
        )
    }
}
