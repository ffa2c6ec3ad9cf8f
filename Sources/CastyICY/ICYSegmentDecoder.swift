import NIOCore

/// Cuts an ICY body into segments: exactly `interval` audio bytes, then one metadata block
/// (a length byte `k` and `k × 16` bytes of zero-padded text), or fixed-size audio-only segments.
///
/// Every call does a constant amount of work besides slicing: it checks whether the buffer holds
/// the whole next segment and, if so, returns slices of it (no audio byte is copied). The only
/// bytes examined are the length byte and the metadata block's padding.
public struct ICYSegmentDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ICYSegment

    /// How the body is cut.
    public let framing: ICYFraming
    /// Stream offset of the next byte to decode; used in error messages.
    private var offset: Int

    /// Creates a decoder for a body with the given framing.
    ///
    /// - Parameters:
    ///   - framing: the metadata interval, or the audio-only segment size; must be positive.
    ///   - startOffset: the stream offset of the body's first byte (the head's length), for error messages.
    public init(framing: ICYFraming, startOffset: Int = 0) {
        precondition(framing.audioBytesPerSegment > 0, "an ICY segment must hold at least one audio byte")
        self.framing = framing
        self.offset = startOffset
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ICYSegment? {
        self.decodeSegment(buffer: &buffer)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ICYSegment? {
        if let segment = self.decodeSegment(buffer: &buffer) {
            return segment
        }
        if buffer.readableBytes > 0 {
            throw ICYError(
                .truncated,
                offset: self.offset,
                detail: "the stream ended \(buffer.readableBytes) bytes into a segment of \(self.framing.audioBytesPerSegment) audio bytes"
            )
        }
        return nil
    }

    /// Returns the next segment if the buffer holds all of it.
    mutating func decodeSegment(buffer: inout ByteBuffer) -> ICYSegment? {
        switch self.framing {
        case .audioOnly(let size):
            guard let audio = buffer.readSlice(length: size) else { return nil }
            self.offset += size
            return ICYSegment(audio: audio)

        case .metadata(let interval):
            guard buffer.readableBytes > interval,
                let k = buffer.getInteger(at: buffer.readerIndex + interval, as: UInt8.self)
            else { return nil }
            let blockLength = Int(k) &* 16
            guard buffer.readableBytes >= interval + 1 + blockLength else { return nil }
            let audio = buffer.readSlice(length: interval)!
            buffer.moveReaderIndex(forwardBy: 1)
            var metadata = buffer.readSlice(length: blockLength)!
            self.offset += interval + 1 + blockLength
            // Drop the zero padding at the end of the text.
            let textLength = metadata.withUnsafeReadableBytes { bytes in
                (bytes.lastIndex(where: { $0 != 0 }) ?? -1) + 1
            }
            metadata.moveWriterIndex(to: metadata.readerIndex + textLength)
            return ICYSegment(audio: audio, metadata: metadata)
        }
    }
}
