import NIOCore
import NIOHTTP1

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
        case head(ICYHeadScanner, status: ICYStatusLine?, headers: [(String, String)])
        case body(ICYSegmentDecoder)
    }

    private var state: State
    private var offset = 0
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
        self.state = .head(ICYHeadScanner(limits: limits), status: nil, headers: [])
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ICYResponsePart? {
        switch self.state {
        case .body(var segments):
            let segment = segments.decodeSegment(buffer: &buffer)
            self.state = .body(segments)
            return segment.map(ICYResponsePart.segment)
        case .head(var scanner, var status, var headers):
            defer {
                if case .head = self.state { self.state = .head(scanner, status: status, headers: headers) }
            }
            while true {
                let lineOffset = self.offset
                guard let line = try scanner.nextLine(buffer: &buffer, offset: &self.offset) else { return nil }
                guard let statusLine = status else {
                    status = try Self.parseStatusLine(line, offset: lineOffset)
                    continue
                }
                if line.readableBytes > 0 {
                    headers.append(try ICYHeadScanner.parseHeader(line, offset: lineOffset, lineNumber: scanner.lineNumber))
                    continue
                }
                let head = ICYResponseHead(status: statusLine, headers: HTTPHeaders(headers))
                let framing = try self.framing(for: head)
                self.state = .body(ICYSegmentDecoder(framing: framing, startOffset: self.offset))
                return .head(head, framing: framing)
            }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ICYResponsePart? {
        switch self.state {
        case .body(var segments):
            let segment = try segments.decodeLast(buffer: &buffer, seenEOF: seenEOF)
            self.state = .body(segments)
            return segment.map(ICYResponsePart.segment)
        case .head:
            if let part = try self.decode(buffer: &buffer) {
                return part
            }
            if case .body = self.state { return nil }
            throw ICYError(.truncated, offset: self.offset, detail: "the stream ended before the end of the reply head")
        }
    }

    private func framing(for head: ICYResponseHead) throws(ICYError) -> ICYFraming {
        guard head.status.isSuccess else {
            throw ICYError(
                .unexpectedStatus(code: head.status.code),
                offset: 0,
                detail: "the server answered '\(head.status)' instead of 200 OK"
            )
        }
        if let raw = head.metaintValue {
            return .metadata(interval: try ICYResponseHead.validateMetaint(raw, limits: self.limits, offset: self.offset))
        }
        if let size = self.audioOnlySegmentSize {
            return .audioOnly(segmentSize: size)
        }
        throw ICYError(
            .missingMetaint,
            offset: self.offset,
            detail: "the reply has no icy-metaint header; send 'Icy-MetaData: 1' or accept audio-only streams"
        )
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
