import CastyICY
import CastyMedia
import CastyStream
import CastyTree
import NIOCore
import NIOEmbedded
import Testing
import CastyTreeTestSupport

@testable import CastyServer

/// Players through the router and the player handler on `EmbeddedChannel`s: the reply head, the
/// burst, the catch-up, the slow listener's drop, the close.
@Suite struct PlayerConnectionHandlerTests {
    /// A 128 kbps 44.1 kHz MPEG-1 Layer III frame (417 bytes).
    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)
    /// Ten frames: one segment.
    static let segment = ICYSegment(audio: ByteBuffer(bytes: Array((0..<10).map { _ in Self.mp3Frame }.joined())))

    let loop = EmbeddedEventLoop()
    let hub: StreamHub

    init() {
        self.hub = StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: self.loop, logger: EmbeddedNode.quiet)
        self.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg", "icy-name": "Radio"]))
        self.loop.run()
    }

    func player(_ request: String = "GET / HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", maxListeners: Int = 10) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, maxListeners: maxListeners)
        try channel.writeInbound(ByteBuffer(string: request))
        self.loop.run()
        return channel
    }

    @Test func theReplyHeadIsTheOneEveryPlayerReads() throws {
        let channel = try self.player()
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(
            head == "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Radio\r\nicy-metaint: 16000\r\nCache-Control: no-cache, no-store\r\n"
                + "Connection: close\r\nServer: Casty/\(CastyVersion.number)\r\nAccess-Control-Allow-Origin: *\r\n"
                + "Access-Control-Expose-Headers: icy-metaint, icy-name, icy-genre, icy-url, icy-br, icy-description, icy-pub, content-type"
        )
        #expect(body.isEmpty, "no audio yet")
        #expect(self.hub.counters.values.listeners == 1)
        // The router handed the connection over and left.
        _ = try channel.pipeline.syncOperations.handler(type: PlayerConnectionHandler.self)
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: ConnectionRouter.self) }
        try channel.close().wait()
        self.loop.run()
        #expect(self.hub.counters.values.listeners == 0, "the close uncounts it")
    }

    /// The directory owns draining: once the root drains this mirror, new players are answered
    /// `503` and those listening stay.
    @Test func aDrainingNodeRefusesNewPlayersAndKeepsItsListeners() throws {
        let fleet = FleetFile.test(mirrors: 1...1)
        let directory = PeerDirectory(name: "m1", fleet: fleet)
        directory.joined(parent: "root", depth: 1, path: ["root"])
        func player() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(loop: self.loop)
            try EmbeddedNode.serve(channel, hub: self.hub, directory: directory)
            try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n"))
            self.loop.run()
            return channel
        }
        let listening = try player()
        #expect(self.hub.counters.values.listeners == 1)
        #expect(directory.treeChanged(.drain(node: "m1")), "the root drains m1")
        let refused = try player()
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(refused))
        #expect(head.hasPrefix("HTTP/1.0 503 "))
        #expect(String(decoding: body, as: UTF8.self) == "this node is leaving the fleet; try another\n")
        #expect(listening.isActive && self.hub.counters.values.listeners == 1, "the listener stays")
        try listening.close().wait()
        self.loop.run()
    }

    @Test func aHeadRequestGetsTheHeadOnly() throws {
        let channel = try self.player("HEAD / HTTP/1.0\r\n\r\n")
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.hasPrefix("HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n"))
        #expect(!head.contains("\r\nicy-metaint:"))
        #expect(body.isEmpty)
        #expect(!channel.isActive)
        #expect(self.hub.counters.values.listeners == 0)
    }

    @Test func aFullNodeAnswers503() throws {
        let channel = try self.player("GET / HTTP/1.0\r\n\r\n", maxListeners: 0)
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.hasPrefix("HTTP/1.0 503 Service Unavailable\r\n"))
        #expect(String(decoding: body, as: UTF8.self) == "this node is full (0 listeners); try another\n")
        #expect(!channel.isActive)
    }

    @Test func theBurstThenEachSegmentOnce() throws {
        for _ in 0..<3 { self.hub.publish(Self.segment) }
        self.loop.run()
        let channel = try self.player("GET / HTTP/1.0\r\n\r\n")
        let (_, burst) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(burst.count == 3 * 10 * Self.mp3Frame.count, "the whole ring is under the burst size")
        self.hub.publish(Self.segment)
        self.loop.run()
        #expect(try EmbeddedNode.received(channel).count == 10 * Self.mp3Frame.count)
        #expect(self.hub.counters.values.segmentsOut == 4)
        try channel.close().wait()
        self.loop.run()
    }

    @Test func aPlayerThatMissedSegmentsCatchesUpFromItsLoop() throws {
        let channel = try self.player("GET / HTTP/1.0\r\n\r\n")
        _ = try EmbeddedNode.received(channel)
        let handler = try channel.pipeline.syncOperations.handler(type: PlayerConnectionHandler.self)
        // Segments 0 and 1 reach the loop's window but not this player (as for a later batch
        // overtaken by the next segment); segment 2 brings them.
        var recent = RecentSegments(capacityBytes: 1 << 20)
        let entries = (0..<3).map { seq in
            StreamHub.Entry(
                numbered: NumberedSegment(seq: UInt64(seq), segment: ICYSegment(audio: ByteBuffer(bytes: Array(repeating: UInt8(seq), count: 5)))),
                title: TitleBlock(), start: ListenerStart(offset: 0), headersBefore: nil
            )
        }
        entries.forEach { recent.append($0) }
        let sent = handler.deliver(entries[2], recent: recent)
        #expect(sent.segments == 3)
        #expect(try EmbeddedNode.received(channel) == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        #expect(handler.deliver(entries[1], recent: recent).segments == 0, "no repeat")
        try channel.close().wait()
        self.loop.run()
    }

    @Test func aListenerTooFarBehindIsDroppedAndCounted() throws {
        let channel = try self.player("GET / HTTP/1.0\r\n\r\n")
        _ = try EmbeddedNode.received(channel)
        // More than maxListenerLagBytes queued: the channel stops being writable.
        channel.isWritable = false
        self.hub.publish(Self.segment)
        self.loop.run()
        #expect(!channel.isActive)
        #expect(self.hub.counters.values.droppedSlowListeners == 1)
        #expect(self.hub.counters.values.listeners == 0)
        // Later segments go nowhere.
        self.hub.publish(Self.segment)
        self.loop.run()
        #expect(self.hub.counters.values.segmentsOut == 1)
    }

    @Test func aRequestThatNeverCompletesGets408() throws {
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, requestTimeout: .seconds(2))
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n"))
        self.loop.advanceTime(by: .seconds(2))
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.hasPrefix("HTTP/1.0 408 Request Timeout\r\n"))
        #expect(String(decoding: body, as: UTF8.self) == "no complete request within 2000 ms\n")
        #expect(!channel.isActive)
    }

    @Test(arguments: [
        ("OPTIONS / HTTP/1.0\r\n\r\n", "HTTP/1.0 204 No Content\r\n"),
        ("POST / HTTP/1.0\r\n\r\n", "HTTP/1.0 405 Method Not Allowed\r\n"),
        ("GET /status.json HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"),
        ("GET /metrics HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        ("GET /casty/v1/lost?v=2 HTTP/1.0\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n"),
        ("GET /casty/v1/join?v=2&name=m2 HTTP/1.0\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n"),
    ])
    func shortRequestsAreAnsweredAndClosed(_ request: String, _ prefix: String) throws {
        let channel = try self.player(request)
        #expect(String(decoding: try EmbeddedNode.received(channel), as: UTF8.self).hasPrefix(prefix))
        #expect(!channel.isActive)
        #expect(self.hub.counters.values.listeners == 0)
    }
}
