import NIOCore
import NIOHTTP1

/// Encodes ICY messages and hands the bytes to a sender the caller supplies, as in Casty's
/// original design: the encoder knows nothing of sockets. A sender may write to a channel, append
/// to a buffer, or print for debugging.
///
/// ```swift
/// let encoder = ICYEncoder()
/// encoder.sendRequest(.player(host: "radio.example:8000", userAgent: "Casty/1"), to: { channel.write($0) })
/// ```
public struct ICYEncoder: Sendable {
    /// Allocates the buffers handed to senders.
    public var allocator: ByteBufferAllocator

    /// Creates an encoder.
    public init(allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.allocator = allocator
    }

    /// Sends a request head: request line, headers, blank line.
    public func sendRequest<E: Error>(_ head: ICYRequestHead, to sender: (ByteBuffer) throws(E) -> Void) throws(E) {
        var buffer = self.allocator.buffer(capacity: 128)
        buffer.writeICYRequestHead(head)
        try sender(buffer)
    }

    /// Sends a reply head: status line, headers in order, blank line.
    public func sendResponseHead<E: Error>(_ head: ICYResponseHead, to sender: (ByteBuffer) throws(E) -> Void) throws(E) {
        var buffer = self.allocator.buffer(capacity: 256)
        buffer.writeICYResponseHead(head)
        try sender(buffer)
    }

    /// Sends one metadata block built from text.
    ///
    /// - Throws: ``ICYError`` `metadataTooLong` when the text is over 255 × 16 bytes.
    public func sendMetadata(_ text: some Collection<UInt8>, to sender: (ByteBuffer) throws -> Void) throws {
        try sender(try self.metadataBlock(text))
    }

    /// Sends a data segment: its audio (the segment's own buffer, not a copy), then its metadata block.
    ///
    /// - Throws: ``ICYError`` `metadataTooLong`, or whatever the sender throws.
    public func sendSegment(_ segment: ICYSegment, to sender: (ByteBuffer) throws -> Void) throws {
        let block = try self.metadataBlock(segment.metadata.readableBytesView)
        try sender(segment.audio)
        try sender(block)
    }

    /// Returns one metadata block built from text: the length byte `k`, the text, zero padding.
    public func metadataBlock(_ text: some Collection<UInt8>) throws(ICYError) -> ByteBuffer {
        var buffer = self.allocator.buffer(capacity: 1 + (text.count + 15) / 16 * 16)
        try buffer.writeICYMetadataBlock(text)
        return buffer
    }

    /// Returns a whole segment, audio then metadata block, in one buffer.
    public func encodeSegment(_ segment: ICYSegment) throws(ICYError) -> ByteBuffer {
        var buffer = self.allocator.buffer(capacity: segment.audio.readableBytes + 1 + segment.metadata.readableBytes + 15)
        buffer.writeImmutableBuffer(segment.audio)
        try buffer.writeICYMetadataBlock(segment.metadata.readableBytesView)
        return buffer
    }
}

extension ByteBuffer {
    /// The most text one metadata block carries: 255 blocks of 16 bytes.
    public static let maxICYMetadataLength = 255 * 16

    /// Writes a request head: `METHOD target version`, headers, blank line. Returns the bytes written.
    @discardableResult
    public mutating func writeICYRequestHead(_ head: ICYRequestHead) -> Int {
        var written = self.writeString(head.method)
        written += self.writeStaticString(" ")
        written += self.writeString(head.target)
        written += self.writeStaticString(" ")
        written += self.writeString(head.version)
        written += self.writeStaticString("\r\n")
        return written + self.writeICYHeaders(head.headers)
    }

    /// Writes a reply head: status line, headers in order, blank line. Returns the bytes written.
    @discardableResult
    public mutating func writeICYResponseHead(_ head: ICYResponseHead) -> Int {
        var written = self.writeString(head.status.description)
        written += self.writeStaticString("\r\n")
        return written + self.writeICYHeaders(head.headers)
    }

    private mutating func writeICYHeaders(_ headers: HTTPHeaders) -> Int {
        var written = 0
        for (name, value) in headers {
            written += self.writeString(name)
            written += self.writeStaticString(": ")
            written += self.writeString(value)
            written += self.writeStaticString("\r\n")
        }
        return written + self.writeStaticString("\r\n")
    }

    /// Writes a metadata block: `k = ceil(count / 16)`, the text, then zeros up to `k × 16` bytes.
    /// Empty text writes the single byte 0. Returns the bytes written.
    ///
    /// - Throws: ``ICYError`` `metadataTooLong` when the text is over 255 × 16 bytes; nothing is written then.
    @discardableResult
    public mutating func writeICYMetadataBlock(_ text: some Collection<UInt8>) throws(ICYError) -> Int {
        let count = text.count
        guard count <= Self.maxICYMetadataLength else {
            throw ICYError(
                .metadataTooLong,
                offset: 0,
                detail: "metadata of \(count) bytes does not fit in one block (at most \(Self.maxICYMetadataLength) bytes); shorten the title"
            )
        }
        let blocks = (count + 15) / 16
        var written = self.writeInteger(UInt8(blocks))
        written += self.writeBytes(text)
        written += self.writeRepeatingByte(0, count: blocks * 16 - count)
        return written
    }

    /// Writes a metadata block from a string's UTF-8 bytes.
    @discardableResult
    public mutating func writeICYMetadataBlock(_ text: String) throws(ICYError) -> Int {
        try self.writeICYMetadataBlock(text.utf8)
    }
}
