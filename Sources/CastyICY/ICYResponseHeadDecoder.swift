import NIOCore
import NIOHTTP1

/// Decodes a reply head alone (status line and headers, up to the blank line) from bytes split
/// anywhere, without judging it: the status and `icy-metaint` are the caller's to check. Used where
/// something else frames the body (libcurl, the peer protocol), and by ``ICYResponseDecoder``.
public struct ICYResponseHeadDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ICYResponseHead

    private var scanner: ICYHeadScanner
    private var status: ICYStatusLine?
    private var headers: [(String, String)] = []
    /// Stream offset of the next byte; after a head, its length.
    public private(set) var offset = 0

    /// Creates a decoder with the given limits.
    public init(limits: ICYDecoderLimits = ICYDecoderLimits()) {
        self.scanner = ICYHeadScanner(limits: limits)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ICYResponseHead? {
        try self.decodeHead(buffer: &buffer)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ICYResponseHead? {
        if let head = try self.decodeHead(buffer: &buffer) { return head }
        if self.scanner.isInsideHead(buffer: buffer) {
            throw ICYError(.truncated, offset: self.offset, detail: "the stream ended before the end of the reply head")
        }
        return nil
    }

    mutating func decodeHead(buffer: inout ByteBuffer) throws(ICYError) -> ICYResponseHead? {
        while true {
            let lineOffset = self.offset
            guard let line = try self.scanner.nextLine(buffer: &buffer, offset: &self.offset) else { return nil }
            guard let status = self.status else {
                self.status = try Self.parseStatusLine(line, offset: lineOffset)
                continue
            }
            if line.readableBytes > 0 {
                self.headers.append(try ICYHeadScanner.parseHeader(line, offset: lineOffset, lineNumber: self.scanner.lineNumber))
                continue
            }
            let head = ICYResponseHead(status: status, headers: HTTPHeaders(self.headers))
            self.status = nil
            self.headers = []
            self.scanner.reset()
            return head
        }
    }

    static func parseStatusLine(_ line: ByteBuffer, offset: Int) throws(ICYError) -> ICYStatusLine {
        let view = line.readableBytesView
        let parts = view.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        let isKnownProtocol = parts.first.map { $0.elementsEqual("ICY".utf8) || ICYRequestDecoder.isHTTPVersion($0) } ?? false
        guard parts.count >= 2, isKnownProtocol, parts[1].count == 3, parts[1].allSatisfy(ICYRequestDecoder.isDigit),
            let code = Int(String(decoding: parts[1], as: UTF8.self))
        else {
            let shown = ICYText.decode(view.prefix(80))
            throw ICYError(
                .malformedStatusLine,
                offset: offset,
                detail: "expected 'ICY 200 OK' or 'HTTP/1.x 200 OK' as the status line, got '\(shown)'"
            )
        }
        return ICYStatusLine(
            protocolName: String(decoding: parts[0], as: UTF8.self),
            code: code,
            reason: parts.count == 3 ? ICYText.decode(parts[2]) : ""
        )
    }
}
