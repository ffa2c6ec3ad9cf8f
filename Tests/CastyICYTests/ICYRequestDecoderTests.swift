import CastyICY
import NIOCore
import NIOHTTP1
import NIOTestUtils
import Testing

@Suite struct ICYRequestDecoderTests {
    let vlc = "GET /stream HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: VLC/3.0.18 LibVLC/3.0.18\r\nIcy-MetaData: 1\r\n\r\n"

    @Test func decodesAtEverySplit() throws {
        let bytes = Array(self.vlc.utf8)
        let whole = try decodeAll(ICYRequestDecoder(), [ByteBuffer(bytes: bytes)])
        #expect(whole.count == 1)
        #expect(whole.first?.wantsMetadata == true)
        #expect(whole.first?.headers.first(name: "user-agent") == "VLC/3.0.18 LibVLC/3.0.18")
        for cut in 0...bytes.count {
            #expect(try decodeAll(ICYRequestDecoder(), split(bytes, at: [cut])) == whole)
        }
        #expect(try decodeAll(ICYRequestDecoder(), bytewise(bytes)) == whole)
    }

    @Test func passesNIOVerifier() throws {
        let head = ICYRequestHead(
            target: "/stream",
            version: "HTTP/1.1",
            headers: HTTPHeaders([("Host", "127.0.0.1:8000"), ("User-Agent", "VLC/3.0.18 LibVLC/3.0.18"), ("Icy-MetaData", "1")])
        )
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(ByteBuffer(string: self.vlc), [head])],
            decoderFactory: { ICYRequestDecoder() }
        )
    }

    @Test func acceptsBareNewlinesAndKeepsHeaderOrder() throws {
        let heads = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: "GET / HTTP/1.0\nB: 2\nA: 1\nb: 3\n\n")])
        #expect(heads.count == 1)
        #expect(heads.first.map { Array($0.headers.map { $0.name }) } == ["B", "A", "b"])
        #expect(heads.first?.headers["b"] == ["2", "3"])
        #expect(heads.first?.wantsMetadata == false)
    }

    @Test func decodesPipelinedRequests() throws {
        let heads = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")])
        #expect(heads.map(\.target) == ["/a", "/b"])
    }

    @Test(arguments: ["GET /\r\n\r\n", "GET / HTTP/1.0 extra\r\n\r\n", "G(T / HTTP/1.0\r\n\r\n", " / HTTP/1.0\r\n\r\n", "GET / HTTQ/1.0\r\n\r\n"])
    func refusesMalformedRequestLines(_ text: String) {
        let error = icyError { _ = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: text)]) }
        #expect(error?.kind == .malformedRequestLine)
        #expect(error?.offset == 0)
        #expect(error?.description.contains("request line") == true)
    }

    /// Found by scripts/hostile.sh: a NUL or a bare CR inside a header value was accepted.
    @Test(arguments: ["Icy-MetaData: 1\u{0}", "X-A: a\rX-B: b", "X-A: \u{1}", "X-A: a\u{7F}"])
    func refusesControlBytesInHeaders(_ header: String) {
        let error = icyError { _ = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: "GET / HTTP/1.0\r\nHost: x\r\n\(header)\r\n\r\n")]) }
        #expect(error?.kind == .malformedHeaderLine)
        #expect(error?.offset == 25)
        #expect(error?.detail.contains("control byte") == true)
    }

    @Test func acceptsTabsAndLatin1InHeaderValues() throws {
        let heads = try decodeAll(ICYRequestDecoder(), [ByteBuffer(bytes: Array("GET / HTTP/1.0\r\nUser-Agent:\tPlayer\t1\r\nX-Name: Caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8))])
        #expect(heads.first?.headers.first(name: "user-agent") == "Player\t1")
        #expect(heads.count == 1)
    }

    @Test func refusesMalformedHeaderAndSaysWhere() {
        let error = icyError { _ = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: "GET / HTTP/1.0\r\nHost: x\r\nno colon here\r\n\r\n")]) }
        #expect(error?.kind == .malformedHeaderLine)
        #expect(error?.offset == 25)
        #expect(error?.detail.contains("line 3") == true)
    }

    @Test func refusesOverlongLineBeforeItEnds() {
        // The line never ends: the decoder must give up at the limit instead of buffering forever.
        let processor = NIOSingleStepByteToMessageProcessor(ICYRequestDecoder())
        let error = icyError {
            try processor.process(buffer: ByteBuffer(string: "GET /")) { _ in }
            for _ in 0..<100 {
                try processor.process(buffer: ByteBuffer(repeating: UInt8(ascii: "a"), count: 1000)) { _ in }
            }
        }
        #expect(error?.kind == .headerLineTooLong)
        #expect(processor.unprocessedBytes < 8 * 1024 + 1000 + 2)
    }

    @Test func acceptsLineAtTheLimitAndRefusesOneMore() throws {
        let limits = ICYDecoderLimits(maxHeaderLineLength: 32)
        let atLimit = "X: " + String(repeating: "v", count: 29)
        #expect(try decodeAll(ICYRequestDecoder(limits: limits), [ByteBuffer(string: "GET / HTTP/1.0\r\n\(atLimit)\r\n\r\n")]).count == 1)
        let error = icyError {
            _ = try decodeAll(ICYRequestDecoder(limits: limits), [ByteBuffer(string: "GET / HTTP/1.0\r\n\(atLimit)v\r\n\r\n")])
        }
        #expect(error?.kind == .headerLineTooLong)
    }

    @Test func refusesOverlongHead() {
        let line = "X-Filler: " + String(repeating: "f", count: 1000) + "\r\n"
        let processor = NIOSingleStepByteToMessageProcessor(ICYRequestDecoder())
        let error = icyError {
            try processor.process(buffer: ByteBuffer(string: "GET / HTTP/1.0\r\n")) { _ in }
            for _ in 0..<100 {
                try processor.process(buffer: ByteBuffer(string: line)) { _ in }
            }
        }
        #expect(error?.kind == .headTooLong)
        #expect(error.map { $0.offset > 60_000 && $0.offset <= 64 * 1024 } == true)
    }

    @Test func reportsTruncatedHeadAtEndOfStream() throws {
        let error = icyError { _ = try decodeAll(ICYRequestDecoder(), [ByteBuffer(string: "GET / HTTP/1.0\r\nHost: a")]) }
        #expect(error?.kind == .truncated)
        #expect(try decodeAll(ICYRequestDecoder(), []).isEmpty)
    }
}
