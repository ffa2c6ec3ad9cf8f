import CastyHandover
import CastyICY
import CastyStream
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import CastyServer

/// The receiving side of a hand-over, without sockets: a stream handed over is restored the same,
/// and a player or child taken over writes its unwritten bytes first, then goes on from where it
/// stood.
@Suite struct HandoverResumeTests {
    static let frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)
    static func segment(_ marker: UInt8, title: String = "") -> ICYSegment {
        var audio = Array((0..<10).map { _ in Self.frame }.joined())
        audio[5] = marker
        return ICYSegment(audio: ByteBuffer(bytes: audio), metadata: ByteBuffer(string: title))
    }

    let loop = EmbeddedEventLoop()

    func hub(identity: String = "abcdabcdabcdabcd", nextSeq: UInt64? = 0) -> StreamHub {
        StreamHub(identity: StreamIdentity(value: identity), nextSeq: nextSeq, group: self.loop, logger: EmbeddedNode.quiet)
    }

    @Test func aStreamHandedOverIsRestoredTheSame() throws {
        let old = self.hub()
        old.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg", "icy-name": "Radio"]))
        for marker in UInt8(0)..<6 { old.publish(Self.segment(marker, title: marker == 2 ? "StreamTitle='A - B';" : "")) }
        self.loop.run()
        let stream = try #require(old.handoverStream())
        // Through JSON, as over the control socket.
        let decoded = try JSONDecoder().decode(HandoverState.Stream.self, from: try JSONEncoder().encode(stream))

        let new = self.hub(identity: "none", nextSeq: nil)
        new.restore(decoded)
        self.loop.run()
        #expect(new.identity == old.identity)
        #expect(new.nextSeq == old.nextSeq)
        #expect(new.context == old.context)
        #expect(new.snapshot().title == "A - B")
        let (was, now) = (old.peerJoin(from: 0), new.peerJoin(from: 0))
        #expect(now.entries.map(\.seq) == was.entries.map(\.seq))
        #expect(now.entries.map(\.numbered.segment) == was.entries.map(\.numbered.segment))
        #expect(now.metadata == was.metadata)
        // The next segment is numbered on.
        new.publish(Self.segment(9))
        #expect(new.newestSeq == 6)
    }

    @Test func aResumedPlayerWritesItsUnwrittenBytesThenGoesOn() throws {
        let hub = self.hub()
        hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg"]))
        for marker in UInt8(0)..<3 { hub.publish(Self.segment(marker)) }
        self.loop.run()
        let state = HandoverState.Player(
            nextSeq: 3, format: "mp3", metaint: 16_000, untilMetadata: 1000, sentTitle: Data("StreamTitle='A';".utf8), awaitingStart: false
        )
        let handler = PlayerConnectionHandler(hub: hub, directory: nil, maxListeners: 10, logger: EmbeddedNode.quiet, resuming: state, unwritten: ByteBuffer(bytes: [1, 2, 3]))
        let channel = EmbeddedChannel(handler: handler, loop: self.loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        #expect(try EmbeddedNode.received(channel).isEmpty, "nothing before it is activated")
        handler.activate()
        #expect(try EmbeddedNode.received(channel) == [1, 2, 3])
        #expect(hub.counters.values.listeners == 1)

        // Segment 3 (4170 audio bytes): 1000 bytes, a block, the rest. Segments 0 to 2 are not
        // sent again.
        hub.publish(Self.segment(3))
        self.loop.run()
        let audio = Array(Self.segment(3).audio.readableBytesView)
        #expect(try EmbeddedNode.received(channel) == Array(audio[..<1000]) + [0] + Array(audio[1000...]))
        try channel.close().wait()
        self.loop.run()
        #expect(hub.counters.values.listeners == 0)
    }

    @Test func aResumedChildGetsItsUnwrittenBytesThenTheNextDataFrame() throws {
        let hub = self.hub()
        for marker in UInt8(0)..<2 { hub.publish(Self.segment(marker)) }
        self.loop.run()
        let state = HandoverState.Peer(name: "m2", observer: true, version: 3, nextSeq: 2, depth: 2, path: ["root", "m1"], takesTerm: false)
        let handler = PeerConnectionHandler(hub: hub, directory: nil, hooks: PeerHooks(), logger: EmbeddedNode.quiet, resuming: state, unwritten: ByteBuffer(bytes: [7, 7]))
        let channel = EmbeddedChannel(handler: handler, loop: self.loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        handler.activate()
        #expect(try EmbeddedNode.received(channel) == [7, 7])
        #expect(hub.counters.values.peers == 1)
        hub.publish(Self.segment(2))
        self.loop.run()
        var expected = ByteBuffer.peerDataFrameHeader(seq: 2, metadata: ByteBuffer(), audioBytes: Self.segment(2).audio.readableBytes)
        expected.writeImmutableBuffer(Self.segment(2).audio)
        #expect(try EmbeddedNode.received(channel) == Array(expected.readableBytesView))
        try channel.close().wait()
    }

    @Test func aConnectionThatClosedDuringTheHandOverIsNotServed() throws {
        let hub = self.hub()
        let state = HandoverState.Player(nextSeq: 0, format: "mp3", metaint: nil, untilMetadata: 0, sentTitle: nil, awaitingStart: true)
        let handler = PlayerConnectionHandler(hub: hub, directory: nil, maxListeners: 10, logger: EmbeddedNode.quiet, resuming: state, unwritten: ByteBuffer())
        let channel = EmbeddedChannel(handler: handler, loop: self.loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.close().wait()
        handler.activate()
        #expect(hub.counters.values.listeners == 0)
    }
}
