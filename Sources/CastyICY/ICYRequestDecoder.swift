import NIOCore
import NIOHTTP1

/// Decodes request heads (`GET / HTTP/1.0`, headers, blank line) from bytes split anywhere.
///
/// Conforms to `NIOSingleStepByteToMessageDecoder`, so it runs in a channel pipeline through
/// `ByteToMessageHandler` or outside one through `NIOSingleStepByteToMessageProcessor`.
/// Each call returns a complete head or `nil` to ask for more; bytes are examined once.
public struct ICYRequestDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ICYRequestHead

    private var scanner: ICYHeadScanner
    private var offset = 0
    private var requestLine: (method: String, target: String, version: String)?
    private var headers: [(String, String)] = []

    /// Creates a decoder with the given limits.
    public init(limits: ICYDecoderLimits = ICYDecoderLimits()) {
        self.scanner = ICYHeadScanner(limits: limits)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ICYRequestHead? {
        try self.decodeHead(buffer: &buffer)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ICYRequestHead? {
        if let head = try self.decodeHead(buffer: &buffer) {
            return head
        }
        if self.scanner.isInsideHead(buffer: buffer) {
            throw ICYError(.truncated, offset: self.offset, detail: "the stream ended in the middle of a request head")
        }
        return nil
    }

    private mutating func decodeHead(buffer: inout ByteBuffer) throws(ICYError) -> ICYRequestHead? {
        while true {
            let lineOffset = self.offset
            guard let line = try self.scanner.nextLine(buffer: &buffer, offset: &self.offset) else { return nil }
            guard let requestLine = self.requestLine else {
                self.requestLine = try Self.parseRequestLine(line, offset: lineOffset)
                continue
            }
            if line.readableBytes == 0 {
                let head = ICYRequestHead(
                    method: requestLine.method,
                    target: requestLine.target,
                    version: requestLine.version,
                    headers: HTTPHeaders(self.headers)
                )
                self.requestLine = nil
                self.headers = []
                self.scanner.reset()
                return head
            }
            try Self.refuseControlBytes(line, offset: lineOffset, lineNumber: self.scanner.lineNumber)
            self.headers.append(try ICYHeadScanner.parseHeader(line, offset: lineOffset, lineNumber: self.scanner.lineNumber))
        }
    }

    /// A request's header may hold no control byte but the tab (RFC 9110 §5.5: a recipient of a
    /// NUL or a CR in a field value must reject the message or replace it). Players never send
    /// one; a bare CR is how one header is smuggled inside another.
    static func refuseControlBytes(_ line: ByteBuffer, offset: Int, lineNumber: Int) throws(ICYError) {
        guard let index = line.readableBytesView.firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return }
        let byte = line.readableBytesView[index]
        throw ICYError(
            .malformedHeaderLine,
            offset: offset,
            detail: "line \(lineNumber) of the head holds the control byte 0x\(String(byte, radix: 16)) at column \(index - line.readableBytesView.startIndex + 1)"
        )
    }

    static func parseRequestLine(_ line: ByteBuffer, offset: Int) throws(ICYError) -> (String, String, String) {
        let parts = line.readableBytesView.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3,
            !parts[0].isEmpty, parts[0].allSatisfy(ICYHeadScanner.isTokenByte),
            !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
            Self.isHTTPVersion(parts[2])
        else {
            let shown = ICYText.decode(line.readableBytesView.prefix(80))
            throw ICYError(
                .malformedRequestLine,
                offset: offset,
                detail: "expected '<METHOD> <path> HTTP/1.x' as the request line, got '\(shown)'"
            )
        }
        return (
            String(decoding: parts[0], as: UTF8.self),
            String(decoding: parts[1], as: UTF8.self),
            String(decoding: parts[2], as: UTF8.self)
        )
    }

    /// `HTTP/d.d`
    static func isHTTPVersion<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let b = Array(bytes)
        return b.count == 8 && b[0..<5].elementsEqual("HTTP/".utf8) && isDigit(b[5]) && b[6] == UInt8(ascii: ".") && isDigit(b[7])
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
