import CastyICY
import CastyMedia
import CastyPeerProtocol
import CastyStream
import NIOHTTP1
import Testing

@Suite struct StreamContextTests {
    @Test func keepsTheRadiosHeadersAndDropsFramingAndThePeerContentType() {
        let reply = ICYResponseHead(
            status: .http10OK,
            headers: HTTPHeaders([
                ("Content-Type", PeerProtocol.contentType), ("Casty-Version", "1"), ("icy-name", "Radio"), ("icy-br", "128"),
                ("icy-metaint", "16000"), ("content-type", "audio/mpeg"), ("Connection", "close"),
            ])
        )
        let context = StreamContext(upstream: reply)
        #expect(context.contentType == "audio/mpeg")
        #expect(context.name == "Radio")
        #expect(context.bitrate == 128)
        #expect(context.headers.map(\.name) == ["icy-name", "icy-br", "content-type"])
        #expect(StreamFormat(contentType: context.contentType) == .mp3)
    }
}
