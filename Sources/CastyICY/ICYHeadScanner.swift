import NIOCore

/// Cuts the lines of a head (first line, header lines, blank line) out of a buffer, one at a time,
/// without ever looking at a byte twice: `scanOffset` remembers how far the current, unfinished
/// line has been searched. Lines may end in `\r\n` or a bare `\n`.
struct ICYHeadScanner {
    let limits: ICYDecoderLimits
    /// Bytes past the reader index already searched for `\n`.
    private var scanOffset = 0
    /// Bytes of the current head consumed so far.
    private var headBytes = 0
    /// Lines of the current head consumed so far (the first line is line 1).
    private(set) var lineNumber = 0

    init(limits: ICYDecoderLimits) {
        self.limits = limits
    }

    /// Whether part of a head has been seen (so that the end of the stream now would truncate it).
    func isInsideHead(buffer: ByteBuffer) -> Bool {
        self.headBytes > 0 || buffer.readableBytes > 0
    }

    /// Starts over for the next head.
    mutating func reset() {
        self = ICYHeadScanner(limits: self.limits)
    }

    /// Returns the next complete line without its ending, or `nil` when more bytes are needed.
    ///
    /// - Parameters:
    ///   - buffer: the input; a returned line is consumed from it.
    ///   - offset: the stream offset of `buffer`'s reader index; advanced past a returned line.
    mutating func nextLine(buffer: inout ByteBuffer, offset: inout Int) throws(ICYError) -> ByteBuffer? {
        let readable = buffer.readableBytes
        let start = self.scanOffset
        let newline: Int? = buffer.withUnsafeReadableBytes { bytes in
            bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
        }
        guard let newline else {
            self.scanOffset = readable
            // One byte of slack for a '\r' that may still be followed by '\n'.
            if readable > self.limits.maxHeaderLineLength + 1 {
                throw self.lineTooLong(offset: offset)
            }
            if self.headBytes + readable > self.limits.maxHeadLength {
                throw self.headTooLong(offset: offset)
            }
            return nil
        }
        var contentLength = newline
        if contentLength > 0, buffer.getInteger(at: buffer.readerIndex + contentLength - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            contentLength -= 1
        }
        if contentLength > self.limits.maxHeaderLineLength {
            throw self.lineTooLong(offset: offset)
        }
        if self.headBytes + newline + 1 > self.limits.maxHeadLength {
            throw self.headTooLong(offset: offset)
        }
        let line = buffer.getSlice(at: buffer.readerIndex, length: contentLength)!
        buffer.moveReaderIndex(forwardBy: newline + 1)
        offset += newline + 1
        self.headBytes += newline + 1
        self.lineNumber += 1
        self.scanOffset = 0
        return line
    }

    private func lineTooLong(offset: Int) -> ICYError {
        ICYError(
            .headerLineTooLong,
            offset: offset,
            detail: "line \(self.lineNumber + 1) of the head is longer than \(self.limits.maxHeaderLineLength) bytes"
        )
    }

    private func headTooLong(offset: Int) -> ICYError {
        ICYError(.headTooLong, offset: offset, detail: "the head is longer than \(self.limits.maxHeadLength) bytes")
    }

    /// Parses `name: value` (value trimmed of spaces and tabs).
    static func parseHeader(_ line: ByteBuffer, offset: Int, lineNumber: Int) throws(ICYError) -> (String, String) {
        let view = line.readableBytesView
        guard let colon = view.firstIndex(of: UInt8(ascii: ":")), colon > view.startIndex,
            view[view.startIndex..<colon].allSatisfy(Self.isTokenByte)
        else {
            let shown = ICYText.decode(view.prefix(60))
            throw ICYError(
                .malformedHeaderLine,
                offset: offset,
                detail: "line \(lineNumber) of the head is not a 'name: value' header: '\(shown)'"
            )
        }
        let name = String(decoding: view[view.startIndex..<colon], as: UTF8.self)
        var value = view[(colon + 1)...]
        while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { value = value.dropFirst() }
        while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { value = value.dropLast() }
        return (name, ICYText.decode(value))
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
