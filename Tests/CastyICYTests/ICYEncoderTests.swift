import CastyICY
import NIOCore
import NIOHTTP1
import Testing

@Suite struct ICYEncoderTests {
    @Test func requestIsTheDesignRequest() {
        var sent: [ByteBuffer] = []
        ICYEncoder().sendRequest(.player(host: "192.99.62.212:9904", feed: "/", userAgent: "Casty")) { sent.append($0) }
        #expect(sent.count == 1)
        #expect(sent.first.map { String(buffer: $0) } == "GET / HTTP/1.0\r\nHost: 192.99.62.212:9904\r\nUser-Agent: Casty\r\nIcy-MetaData: 1\r\n\r\n")
    }

    @Test func replyHeadKeepsHeaderOrder() throws {
        let head = ICYResponseHead(
            status: .icyOK,
            headers: HTTPHeaders([("icy-name", "Virgin Radio"), ("content-type", "audio/mpeg"), ("icy-metaint", "8192")])
        )
        var sent = ByteBuffer()
        ICYEncoder().sendResponseHead(head) { sent.writeImmutableBuffer($0) }
        #expect(String(buffer: sent) == "ICY 200 OK\r\nicy-name: Virgin Radio\r\ncontent-type: audio/mpeg\r\nicy-metaint: 8192\r\n\r\n")
        #expect(try decodeAll(ICYResponseDecoder(), [sent]) == [.head(head, framing: .metadata(interval: 8192))])
    }

    /// Found by fuzzing: a code with a leading zero came back as two digits.
    @Test(arguments: ["ICY 099 Odd", "HTTP/1.0 007", "HTTP/1.1 404 Not Found"])
    func statusLinesRoundTrip(_ line: String) throws {
        let heads = try decodeAll(ICYResponseHeadDecoder(), [ByteBuffer(string: line + "\r\n\r\n")])
        var sent = ByteBuffer()
        ICYEncoder().sendResponseHead(try #require(heads.first)) { sent.writeImmutableBuffer($0) }
        #expect(String(buffer: sent) == line + "\r\n\r\n")
    }

    @Test func segmentSendsAudioItselfThenTheBlock() throws {
        let segment = ICYSegment(audio: ByteBuffer(string: "12345"), metadata: "hello")
        var sent: [ByteBuffer] = []
        try ICYEncoder().sendSegment(segment) { sent.append($0) }
        #expect(sent.count == 2)
        #expect(sent.first == segment.audio)
        #expect(sent.last?.bytes == [1] + Array("hello".utf8) + Array(repeating: 0, count: 11))
        #expect(try ICYEncoder().encodeSegment(segment).bytes == sent.flatMap(\.bytes))
    }

    @Test func senderErrorsReachTheCaller() {
        struct Closed: Error {}
        #expect(throws: Closed.self) {
            try ICYEncoder().sendSegment(ICYSegment(audio: ByteBuffer(string: "a"))) { _ in throw Closed() }
        }
    }
}
