import CastyICY
import NIOCore
import Testing

/// The examples from Casty's original design, fed exactly as the design feeds them.
@Suite struct DesignExampleTests {
    @Test func completeRequestIsDecoded() throws {
        let processor = NIOSingleStepByteToMessageProcessor(ICYRequestDecoder())
        var heads: [ICYRequestHead] = []
        try processor.process(buffer: ByteBuffer(string: "GET / HTTP/1.0\r\nkey:value\r\n\r\n")) { heads.append($0) }
        #expect(heads.count == 1)
        #expect(heads.first?.method == "GET")
        #expect(heads.first?.target == "/")
        #expect(heads.first?.version == "HTTP/1.0")
        #expect(heads.first?.headers.first(name: "key") == "value")
        #expect(processor.unprocessedBytes == 0)
    }

    @Test func requestWithoutFinalLineEndAsksForMoreThenCompletes() throws {
        let processor = NIOSingleStepByteToMessageProcessor(ICYRequestDecoder())
        var heads: [ICYRequestHead] = []
        try processor.process(buffer: ByteBuffer(string: "GET / HTTP/1.0\r\nkey:value\r\n")) { heads.append($0) }
        #expect(heads.isEmpty, "an unfinished head must ask for more")
        try processor.process(buffer: ByteBuffer(string: "\r\n")) { heads.append($0) }
        #expect(heads.count == 1)
        #expect(heads.first?.headers.first(name: "KEY") == "value")
    }

    @Test func replyYieldsHeadThenSegment() throws {
        let processor = NIOSingleStepByteToMessageProcessor(ICYResponseDecoder())
        var parts: [ICYResponsePart] = []
        try processor.process(buffer: ByteBuffer(string: "ICY 200 OK\r\nicy-metaint: 5\r\n\r\n123")) { parts.append($0) }
        #expect(parts.count == 1)
        guard case .head(let head, let framing) = parts.first else {
            Issue.record("expected the head first, got \(parts)")
            return
        }
        #expect(head.status == .icyOK)
        #expect(head.headers.first(name: "icy-metaint") == "5")
        #expect(framing == .metadata(interval: 5))

        for piece in [ByteBuffer(string: "45"), ByteBuffer(bytes: [1]), ByteBuffer(string: "hello")] {
            try processor.process(buffer: piece) { parts.append($0) }
            #expect(parts.count == 1, "no segment until the metadata block is complete")
        }
        try processor.process(buffer: ByteBuffer(repeating: 0, count: 11)) { parts.append($0) }
        #expect(parts.count == 2)
        #expect(parts.last == .segment(ICYSegment(audio: ByteBuffer(string: "12345"), metadata: "hello")))
    }

    @Test func metadataBlockMatchesTheDesignBytes() throws {
        // <<1, "hello", 0:(11*8)>>
        let block = try ICYEncoder().metadataBlock("hello".utf8)
        #expect(block.bytes == [1] + Array("hello".utf8) + Array(repeating: 0, count: 11))
        #expect(try ICYEncoder().metadataBlock([]).bytes == [0])
    }
}
