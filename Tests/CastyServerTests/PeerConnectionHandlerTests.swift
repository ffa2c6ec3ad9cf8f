import CastyCore
import CastyICY
import CastyPeerProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import CastyServer

/// Joins through the router and the peer handler on `EmbeddedChannel`s: the accept head with the
/// peer protocol's headers, data frames, heartbeats, leaves, redirects and refusals.
@Suite struct PeerConnectionHandlerTests {
    static let fleet = FleetFile(
        upstream: "http://127.0.0.1:1/",
        secret: "s3cret",
        ingest: .init(name: "root", host: "127.0.0.1", port: 9000),
        mirrors: (1...7).map { .init(name: "m\($0)", host: "127.0.0.1", port: 9000 + $0) }
    )
    static let segment = ICYSegment(audio: ByteBuffer(bytes: Array(repeating: 0x55, count: 100)))

    let loop = EmbeddedEventLoop()
    let hub: StreamHub

    init() {
        self.hub = StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: self.loop, logger: EmbeddedNode.quiet)
        self.hub.setContext(StreamContext(headers: ["Content-Type": "audio/mpeg", "icy-name": "Radio"]))
        self.loop.run()
    }

    func join(_ request: JoinRequest, directory: PeerDirectory, hooks: PeerHooks = PeerHooks()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, directory: directory, hooks: hooks)
        try channel.writeInbound(ByteBuffer(string: "GET \(request.target) HTTP/1.0\r\nHost: x\r\n\r\n"))
        self.loop.run()
        return channel
    }

    static func frames(_ bytes: [UInt8]) throws -> [PeerFrame] {
        var buffer = ByteBuffer(bytes: bytes)
        var decoder = PeerFrameDecoder()
        var frames: [PeerFrame] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        #expect(buffer.readableBytes == 0)
        return frames
    }

    @Test func anAcceptedJoinGetsTheAcceptHeadThenDataFrames() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret"), directory: root)
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(
            head == "HTTP/1.0 200 OK\r\nContent-Type: application/vnd.casty.segments\r\nCasty-Version: 2\r\nCasty-Stream: s\r\n"
                + "Casty-Parent: root\r\nCasty-Depth: 1\r\nCasty-Path: root\r\nCasty-Next-Seq: 0\r\nContent-Type: audio/mpeg\r\n"
                + "icy-name: Radio\r\nCache-Control: no-cache, no-store\r\nConnection: close"
        )
        #expect(body.isEmpty)
        #expect(self.hub.counters.values.peers == 1)
        #expect(root.place.children == ["m1"])
        self.hub.publish(Self.segment)
        self.hub.publish(ICYSegment(audio: Self.segment.audio, metadata: ByteBuffer(string: "StreamTitle='A';")))
        self.loop.run()
        #expect(
            try Self.frames(EmbeddedNode.received(channel)) == [
                .data(seq: 0, segment: Self.segment),
                .data(seq: 1, segment: ICYSegment(audio: Self.segment.audio, metadata: ByteBuffer(string: "StreamTitle='A';"))),
            ]
        )
        try channel.close().wait()
        self.loop.run()
        #expect(self.hub.counters.values.peers == 0)
        #expect(root.place.children.isEmpty, "its slot is free")
    }

    @Test func aRejoinFromTheSameStreamGetsTheMissedSegmentsFirst() throws {
        for _ in 0..<4 { self.hub.publish(Self.segment) }
        self.loop.run()
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "m1", from: 2, stream: "s", secret: "s3cret"), directory: root)
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.contains("\r\nCasty-Next-Seq: 2\r\n"))
        #expect(try Self.frames(body) == [.data(seq: 2, segment: Self.segment), .data(seq: 3, segment: Self.segment)])
        try channel.close().wait()
        self.loop.run()
    }

    @Test func anIdleLinkGetsHeartbeats() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "load-1", from: nil, stream: nil, observer: true, secret: "s3cret"), directory: root)
        _ = try EmbeddedNode.received(channel)
        self.hub.publish(Self.segment)
        self.loop.run()
        _ = try EmbeddedNode.received(channel)
        self.loop.advanceTime(by: .milliseconds(Int64(PeerProtocol.heartbeatIntervalMilliseconds)))
        #expect(try Self.frames(EmbeddedNode.received(channel)) == [.heartbeat(newestSeq: 0)])
        try channel.close().wait()
        self.loop.run()
        #expect(root.place.children.isEmpty, "an observer takes no slot")
    }

    @Test func anEvictedChildGetsTheTreeChangeAndALeaveThenIsClosed() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret"), directory: root)
        _ = try EmbeddedNode.received(channel)
        self.hub.broadcast(.evict(node: "m1"))
        self.loop.run()
        #expect(try Self.frames(EmbeddedNode.received(channel)) == [.tree(.evict(node: "m1")), .leave(reason: "evicted by the root")])
        #expect(channel.isActive)
        self.loop.advanceTime(by: .milliseconds(50))
        #expect(!channel.isActive)
        self.hub.publish(Self.segment)
        self.loop.run()
        #expect(try EmbeddedNode.received(channel).isEmpty)
    }

    @Test func aNewStreamIdentitySendsChildrenAway() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret"), directory: root)
        _ = try EmbeddedNode.received(channel)
        self.hub.resetStream(identity: StreamIdentity(value: "t"), nextSeq: 0)
        self.loop.run()
        #expect(try Self.frames(EmbeddedNode.received(channel)) == [.leave(reason: "the stream changed; rejoin to resync")])
        self.loop.advanceTime(by: .milliseconds(50))
        #expect(!channel.isActive)
    }

    @Test func aSlowChildIsSentAwayAndCounted() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = try self.join(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret"), directory: root)
        _ = try EmbeddedNode.received(channel)
        channel.isWritable = false
        self.hub.publish(Self.segment)
        self.loop.run()
        let frames = try Self.frames(EmbeddedNode.received(channel))
        #expect(frames == [.data(seq: 0, segment: Self.segment), .leave(reason: "too slow: more than 524288 bytes behind")])
        #expect(self.hub.counters.values.droppedSlowListeners == 1)
        self.loop.advanceTime(by: .milliseconds(50))
        #expect(!channel.isActive)
    }

    @Test func aFullRootRedirectsToTheParentsAddress() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        for index in 1...2 { _ = root.decide(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret")) }
        let request = JoinRequest(name: "m3", from: nil, stream: nil, secret: "s3cret")
        let channel = try self.join(request, directory: root)
        #expect(
            String(decoding: try EmbeddedNode.received(channel), as: UTF8.self)
                == "HTTP/1.0 307 Temporary Redirect\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nConnection: close\r\n"
                + "Location: http://127.0.0.1:9001\(request.target)\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
        )
        #expect(!channel.isActive)
        #expect(self.hub.counters.values.peers == 0)
    }

    @Test func refusalsCarryTheirStatusAndReason() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let wrong = try self.join(JoinRequest(name: "m1", from: nil, stream: nil, secret: "guess"), directory: root)
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(wrong))
        #expect(head.hasPrefix("HTTP/1.0 403 Forbidden\r\n"))
        #expect(String(decoding: body, as: UTF8.self) == "the join's proof does not match this fleet's secret\n")
        #expect(!wrong.isActive)

        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        let early = try self.join(JoinRequest(name: "m3", from: nil, stream: nil, secret: "s3cret"), directory: mirror)
        #expect(String(decoding: try EmbeddedNode.received(early), as: UTF8.self).hasPrefix("HTTP/1.0 503 Service Unavailable\r\n"))
    }

    @Test func anAncestorIsRefusedWith409AndThisNodeRejoins() throws {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "m6", depth: 2, path: ["root", "m6"])
        let relocated = NIOLockedValueBox(0)
        let hooks = PeerHooks(relocateSelf: { relocated.withLockedValue { $0 += 1 } })
        let channel = try self.join(JoinRequest(name: "m6", from: nil, stream: nil, secret: "s3cret"), directory: mirror, hooks: hooks)
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.hasPrefix("HTTP/1.0 409 Conflict\r\n"))
        #expect(String(decoding: body, as: UTF8.self) == "'m6' is an ancestor of m1; m1 rejoins first\n")
        #expect(relocated.withLockedValue { $0 } == 1)
    }

    @Test func aNodeWithoutAFleetTakesNoPeers() throws {
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub)
        try channel.writeInbound(ByteBuffer(string: "GET \(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s").target) HTTP/1.0\r\n\r\n"))
        self.loop.run()
        #expect(String(decoding: try EmbeddedNode.received(channel), as: UTF8.self).hasPrefix("HTTP/1.0 404 Not Found\r\n"))
    }
}
