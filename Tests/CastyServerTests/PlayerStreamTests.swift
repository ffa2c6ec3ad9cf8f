import CastyICY
import CastyMedia
import CastyStream
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import CastyServer

/// A player's stream from a hub, through the real router and player handler on an
/// `EmbeddedChannel`: no sockets, no threads.
@Suite struct PlayerStreamTests {
    /// Logs nothing: the tests read what the player gets, not what the node says.
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A 128 kbps 44.1 kHz MPEG-1 Layer III frame (417 bytes).
    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)

    final class Player {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let hub: StreamHub

        init(hub: (EmbeddedEventLoop) -> StreamHub) throws {
            self.hub = hub(self.loop)
            self.channel = EmbeddedChannel(loop: self.loop)
            try EmbeddedNode.serve(self.channel, hub: self.hub)
        }

        func request(metadata: Bool) throws {
            try self.channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n\(metadata ? "Icy-MetaData: 1\r\n" : "")\r\n"))
            self.loop.run()
        }

        /// Everything written to the player so far.
        func received() throws -> [UInt8] {
            var bytes: [UInt8] = []
            while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
            return bytes
        }
    }

    static func split(_ bytes: [UInt8]) -> (head: String, body: [UInt8]) {
        let end = bytes.indices.first { bytes[$0...].starts(with: Array("\r\n\r\n".utf8)) }!
        return (String(decoding: bytes[..<end], as: UTF8.self), Array(bytes[(end + 4)...]))
    }

    @Test func aMirrorsPlayerGetsTheTitleInForceInItsFirstMetadataBlock() throws {
        let player = try Player { StreamHub(identity: StreamIdentity(value: "s"), nextSeq: nil, group: $0, logger: PlayerStreamTests.quiet) }
        player.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg"]))
        // The parent's reply said what was playing when this mirror joined mid-track.
        player.hub.resume(metadata: ByteBuffer(string: "StreamTitle='Artist - Mid Track';"))
        let audio = Array((0..<40).map { _ in Self.mp3Frame }.joined())  // 16,680 bytes
        player.hub.receive(seq: 7, segment: ICYSegment(audio: ByteBuffer(bytes: audio)))
        try player.request(metadata: true)
        let (head, body) = Self.split(try player.received())
        #expect(head.contains("icy-metaint: 16000"))
        #expect(head.contains("Content-Type: audio/mpeg"))
        // The first metadata block follows 16,000 audio bytes and names the track.
        let length = Int(body[16_000]) * 16
        let block = String(decoding: body[16_001..<16_001 + length].filter { $0 != 0 }, as: UTF8.self)
        #expect(block == "StreamTitle='Artist - Mid Track';")
        try player.channel.close().wait()
        player.loop.run()
    }

    @Test func audioFromBeforeTheStreamsFirstTitleIsNamedByThatTitle() throws {
        // A radio's burst precedes its first metadata block: at the very start of a stream, the
        // first segment has no title of its own.
        let player = try Player { StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: $0, logger: PlayerStreamTests.quiet) }
        player.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg"]))
        let audio = Array((0..<40).map { _ in Self.mp3Frame }.joined())
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: audio), metadata: ByteBuffer(string: "StreamTitle='First';")))
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: audio)))
        try player.request(metadata: true)
        let (_, body) = Self.split(try player.received())
        let length = Int(body[16_000]) * 16
        #expect(String(decoding: body[16_001..<16_001 + length].filter { $0 != 0 }, as: UTF8.self) == "StreamTitle='First';")
        // The next block is empty: the same title goes on.
        #expect(body[16_001 + length + 16_000] == 0)
        try player.channel.close().wait()
        player.loop.run()
    }

    @Test func anOggPlayerStartsWithTheChainsHeaderPagesAndGetsNoICYMetadata() throws {
        var writer = OggWriter(serial: 5)
        let headers = writer.page([1] + Array("vorbis".utf8) + [UInt8](repeating: 0, count: 23), bos: true)
            + writer.page([3] + Array("vorbis".utf8) + OggWriter.comments([("TITLE", "Tune"), ("ARTIST", "Band")]) + [1])
            + writer.page([5] + Array("vorbis".utf8) + [UInt8](repeating: 7, count: 200))
        let audioPages = (0..<4).map { writer.page([UInt8](repeating: UInt8($0), count: 2000)) }
        // A burst of the last two segments only (4,070 + 2,535 bytes): it starts mid-page.
        let player = try Player {
            StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, configuration: .init(burstBytes: 5000), group: $0, logger: PlayerStreamTests.quiet)
        }
        player.hub.setContext(StreamContext(headers: ["Content-Type": "application/ogg"]))
        // The ring begins in the middle of a page: the headers were sent long ago.
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: headers)))
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: Array(audioPages[0].suffix(500)) + audioPages[1])))
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: audioPages[2] + audioPages[3])))
        #expect(player.hub.snapshot().title == "Band - Tune")
        try player.request(metadata: true)
        let (head, body) = Self.split(try player.received())
        #expect(!head.lowercased().contains("\r\nicy-metaint:"))
        #expect(head.contains("Content-Type: application/ogg"))
        #expect(Array(body.prefix(headers.count)) == headers)
        #expect(Array(body.dropFirst(headers.count)) == audioPages[1] + audioPages[2] + audioPages[3])
        try player.channel.close().wait()
        player.loop.run()
    }

    @Test func aPlayerWhoJoinedBeforeTheContextKeepsItsStreamWhenTheFormatIsTheOneItWasTold() throws {
        // A mirror whose parent had no context yet: the player is told audio/mpeg by default.
        let player = try Player { StreamHub(identity: StreamIdentity(value: "s"), nextSeq: nil, group: $0, logger: PlayerStreamTests.quiet) }
        player.hub.setContext(StreamContext())
        try player.request(metadata: false)
        #expect(Self.split(try player.received()).head.contains("Content-Type: audio/mpeg"))
        // The context frame arrives: MP3, as the player was told. It stays and gets audio.
        player.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg"]))
        player.hub.receive(seq: 0, segment: ICYSegment(audio: ByteBuffer(bytes: Array((0..<10).map { _ in Self.mp3Frame }.joined()))))
        player.loop.run()
        #expect(player.channel.isActive)
        #expect(try player.received().count == 10 * Self.mp3Frame.count)
        try player.channel.close().wait()
        player.loop.run()
    }

    @Test func playersAreClosedWhenTheStreamsFormatChanges() throws {
        let player = try Player { StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: $0, logger: PlayerStreamTests.quiet) }
        player.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg"]), checkBytes: true)
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: Array((0..<10).map { _ in Self.mp3Frame }.joined()))))
        try player.request(metadata: false)
        #expect(try !player.received().isEmpty)
        #expect(player.channel.isActive)
        // The radio reconnects with another format: a new stream for the player's decoder.
        player.hub.setContext(StreamContext(headers: ["Content-Type": "audio/aac"]), checkBytes: true)
        var writer = OggWriter(serial: 1)
        player.hub.publish(ICYSegment(audio: ByteBuffer(bytes: writer.page([1] + Array("vorbis".utf8), bos: true))))
        player.loop.run()
        #expect(!player.channel.isActive)
        // The bytes said Ogg, not AAC: the context now says so.
        #expect(player.hub.context.contentType == "audio/ogg")
    }
}

/// Ogg pages for these tests, with their CRC.
struct OggWriter {
    var serial: UInt32
    var sequence: UInt32 = 0

    /// One page holding one packet (at most 255 × 255 bytes).
    mutating func page(_ packet: [UInt8], bos: Bool = false) -> [UInt8] {
        var lacing = [UInt8](repeating: 255, count: packet.count / 255)
        lacing.append(UInt8(packet.count % 255))
        var page: [UInt8] = Array("OggS".utf8) + [0, bos ? 0x02 : 0]
        page += withUnsafeBytes(of: UInt64(self.sequence).littleEndian, Array.init)
        page += withUnsafeBytes(of: self.serial.littleEndian, Array.init)
        page += withUnsafeBytes(of: self.sequence.littleEndian, Array.init)
        page += [0, 0, 0, 0, UInt8(lacing.count)] + lacing + packet
        let crc = OggPage.crc(page)
        page.replaceSubrange(22..<26, with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        self.sequence += 1
        return page
    }

    /// A Vorbis comment block: vendor, then `KEY=value` comments.
    static func comments(_ comments: [(String, String)]) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        var bytes = le32(5) + Array("Casty".utf8) + le32(comments.count)
        for (key, value) in comments {
            let text = Array("\(key)=\(value)".utf8)
            bytes += le32(text.count) + text
        }
        return bytes
    }
}
