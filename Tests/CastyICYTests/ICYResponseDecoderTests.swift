import CastyICY
import NIOCore
import NIOHTTP1
import Testing

@Suite struct ICYResponseDecoderTests {
    @Test(arguments: ["ICY 200 OK", "HTTP/1.0 200 OK", "HTTP/1.1 200 OK"])
    func acceptsRealStatusLines(_ statusLine: String) throws {
        let text = "\(statusLine)\r\nicy-name: Test\r\nICY-METAINT: 4\r\n\r\nabcd\u{0}wxyz\u{0}"
        let parts = try decodeAll(ICYResponseDecoder(), bytewise(Array(text.utf8)))
        #expect(parts.count == 3)
        guard case .head(let head, .metadata(interval: 4)) = parts.first else {
            Issue.record("no head with interval 4: \(parts)")
            return
        }
        #expect(head.status.description == statusLine)
        #expect(head.headers.first(name: "Icy-Name") == "Test")
        #expect(parts.dropFirst().map { part -> String in
            guard case .segment(let s) = part else { return "?" }
            return String(buffer: s.audio) + "|" + s.metadataText
        } == ["abcd|", "wxyz|"])
    }

    @Test func acceptsBareNewlinesAsRealServersSend() throws {
        let parts = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\nicy-metaint:2\n\nab\u{0}")])
        #expect(parts.count == 2)
    }

    @Test(arguments: [
        ("ICY 2000 OK", ICYError.Kind.malformedStatusLine),
        ("FOO 200 OK", .malformedStatusLine),
        ("HTTP/1.0 OK", .malformedStatusLine),
        ("", .malformedStatusLine),
        ("HTTP/1.0 404 Not Found", .unexpectedStatus(code: 404)),
    ])
    func refusesBadStatus(_ statusLine: String, _ kind: ICYError.Kind) {
        let error = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "\(statusLine)\r\nicy-metaint: 4\r\n\r\n")]) }
        #expect(error?.kind == kind)
    }

    @Test(arguments: [
        ("icy-metaint: 0", "is 0"),
        ("icy-metaint: 12ab", "not a number"),
        ("icy-metaint: -5", "not a number"),
        ("icy-metaint: ", "not a number"),
        ("icy-metaint: 99999999999999999999", "not a number"),
        ("icy-metaint: 1048577", "larger than the limit"),
    ])
    func refusesBadMetaint(_ header: String, _ explanation: String) {
        let error = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\n\(header)\r\n\r\n")]) }
        #expect(error?.kind == .invalidMetaint)
        #expect(error?.detail.contains(explanation) == true, "\(String(describing: error))")
    }

    @Test func acceptsTheLargestMetaint() throws {
        let parts = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\nicy-metaint: 1048576\r\n\r\n")])
        #expect(parts.count == 1)
    }

    @Test func refusesMissingMetaintUnlessAudioOnlyIsAccepted() throws {
        let text = "HTTP/1.0 200 OK\r\ncontent-type: audio/mpeg\r\n\r\n0123456789"
        let error = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: text)]) }
        #expect(error?.kind == .missingMetaint)

        let parts = try decodeAll(ICYResponseDecoder(audioOnlySegmentSize: 5), [ByteBuffer(string: text)])
        #expect(parts.count == 3)
        #expect(parts.last == .segment(ICYSegment(audio: ByteBuffer(string: "56789"))))
        guard case .head(_, let framing) = parts.first else { return }
        #expect(framing == .audioOnly(segmentSize: 5))
    }

    @Test func reportsTruncationInHeadAndBody() {
        let inHead = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\nicy-met")]) }
        #expect(inHead?.kind == .truncated)
        let inAudio = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\nicy-metaint: 4\r\n\r\nab")]) }
        #expect(inAudio?.kind == .truncated)
        #expect(inAudio?.offset == 30)
        let inMetadata = icyError { _ = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\nicy-metaint: 4\r\n\r\nabcd\u{1}hel")]) }
        #expect(inMetadata?.kind == .truncated)
        let empty = icyError { _ = try decodeAll(ICYResponseDecoder(), []) }
        #expect(empty?.kind == .truncated)
    }

    @Test func endsCleanlyOnASegmentBoundary() throws {
        let parts = try decodeAll(ICYResponseDecoder(), [ByteBuffer(string: "ICY 200 OK\r\nicy-metaint: 4\r\n\r\nabcd\u{0}")])
        #expect(parts.count == 2)
    }
}
