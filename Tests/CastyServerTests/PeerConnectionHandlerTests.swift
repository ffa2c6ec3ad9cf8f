import CastyICY
import CastyPeerProtocol
import CastyStream
import CastyTree
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
import CastyTreeTestSupport

@testable import CastyServer

/// Joins through the router and the peer handler on `EmbeddedChannel`s: the accept head with the
/// peer protocol's headers, data frames, heartbeats, leaves, redirects and refusals.
@Suite struct PeerConnectionHandlerTests {
    static let fleet = FleetFile.test(mirrors: 1...7)
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
            head == "HTTP/1.0 200 OK\r\nContent-Type: application/vnd.casty.segments\r\nCasty-Version: 3\r\nCasty-Stream: s\r\n"
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

    static func join(_ name: String, version: Int = PeerProtocol.version) -> JoinRequest {
        var request = JoinRequest(name: name, from: nil, stream: nil, secret: "s3cret")
        request.version = version
        request.proof = JoinRequest.proof(secret: "s3cret", name: name, nonce: request.nonce)
        return request
    }

    @Test func aMovedNodeTellsItsVersion3ChildrenTheirNewPlace() throws {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "m6", depth: 2, path: ["root", "m6"])
        let current = try self.join(Self.join("m2"), directory: mirror)
        #expect(EmbeddedNode.split(try EmbeddedNode.received(current)).head.contains("\r\nCasty-Depth: 3\r\nCasty-Path: root,m6,m1\r\n"))
        let old = try self.join(Self.join("m3", version: 2), directory: mirror)
        _ = try EmbeddedNode.received(old)

        // The root moved m1 under itself: m1 joined its new parent.
        #expect(mirror.joined(parent: "root", depth: 1, path: ["root"]))
        self.hub.placeChanged()
        self.loop.run()
        #expect(try Self.frames(EmbeddedNode.received(current)) == [.place(depth: 2, path: ["root", "m1"])])
        #expect(try EmbeddedNode.received(old).isEmpty, "a version 2 link gets no frame it cannot parse")
        // The same place again sends nothing.
        self.hub.placeChanged()
        self.loop.run()
        #expect(try EmbeddedNode.received(current).isEmpty)
        try current.close().wait()
        try old.close().wait()
        self.loop.run()
    }

    @Test func anEvictedChildIsNoRedirectTargetWhileItsLinkCloses() throws {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "root", depth: 1, path: ["root"])
        let evicted = try self.join(Self.join("m3"), directory: mirror)
        let sibling = try self.join(Self.join("m4"), directory: mirror)
        #expect(mirror.place.children == ["m3", "m4"])
        self.hub.broadcast(.evict(node: "m3"))
        self.loop.run()
        #expect(evicted.isActive, "its link closes 50 ms after the leave")
        #expect(mirror.place.children == ["m4"], "its slot is free at once")
        let joiner = try self.join(Self.join("m5"), directory: mirror)
        #expect(EmbeddedNode.split(try EmbeddedNode.received(joiner)).head.hasPrefix("HTTP/1.0 200 OK\r\n"), "accepted, not sent to m3")
        // m3 comes back at once (it was evicted wrongly, say) and takes the free slot back when m5 leaves.
        try joiner.close().wait()
        self.loop.run()
        let back = try self.join(Self.join("m3"), directory: mirror)
        #expect(EmbeddedNode.split(try EmbeddedNode.received(back)).head.hasPrefix("HTTP/1.0 200 OK\r\n"))
        self.loop.advanceTime(by: .milliseconds(50))
        #expect(!evicted.isActive)
        #expect(mirror.place.children.sorted() == ["m3", "m4"], "closing the old link does not free the new one's slot")
        try sibling.close().wait()
        try back.close().wait()
        self.loop.run()
    }

    @Test func theRootTakesALeaveNoticeAndAMirrorRefusesIt() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let child = try self.join(Self.join("m1"), directory: root)
        _ = try self.join(Self.join("m2"), directory: root)
        for index in 3...7 { _ = root.decide(Self.join("m\(index)")) }
        _ = try EmbeddedNode.received(child)
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, directory: root)
        try channel.writeInbound(ByteBuffer(string: "GET \(LeaveNotice(name: "m2", secret: "s3cret").target) HTTP/1.0\r\n\r\n"))
        self.loop.run()
        #expect(String(decoding: try EmbeddedNode.received(channel), as: UTF8.self).hasPrefix("HTTP/1.0 204 No Content\r\n"))
        #expect(root.tree?["m2"] == nil && root.tree?["m7"] == "root")
        #expect(try Self.frames(EmbeddedNode.received(child)) == [.tree(.evict(node: "m2")), .tree(.relocate(node: "m7"))])

        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        for (target, status) in [
            (LeaveNotice(name: "m2", secret: "s3cret").target, "HTTP/1.0 404 Not Found\r\n"),
            ("/casty/v1/leave?v=3&name=m2", "HTTP/1.0 400 Bad Request\r\n"),
        ] {
            let other = EmbeddedChannel(loop: self.loop)
            try EmbeddedNode.serve(other, hub: self.hub, directory: mirror)
            try other.writeInbound(ByteBuffer(string: "GET \(target) HTTP/1.0\r\n\r\n"))
            self.loop.run()
            #expect(String(decoding: try EmbeddedNode.received(other), as: UTF8.self).hasPrefix(status))
        }
    }

    @Test(arguments: [
        "v=3&nonce=1-a&proof=ab",  // no name
        "v=3&name=&nonce=1-a&proof=ab",  // an empty name
        "v=3&name=m1&proof=ab",  // no nonce
        "v=3&name=m1&nonce=1-a",  // no proof
        "name=m1&nonce=1-a&proof=ab",  // no version
        "v=three&name=m1&nonce=1-a&proof=ab",  // a version that is no number
        "v=3&name=m1&from=x&nonce=1-a&proof=ab",  // a from that is no number
    ])
    func aJoinMissingAFieldIsABadRequest(_ query: String) throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, directory: root)
        try channel.writeInbound(ByteBuffer(string: "GET /casty/v1/join?\(query) HTTP/1.0\r\n\r\n"))
        self.loop.run()
        #expect(String(decoding: try EmbeddedNode.received(channel), as: UTF8.self).hasPrefix("HTTP/1.0 400 Bad Request\r\n"))
        #expect(root.place.children.isEmpty)
    }

    @Test(arguments: [
        ("nonce=abc&proof=00", "the join's proof does not match"),  // a malformed proof
        ("nonce=abc", "stale"),  // a nonce without a time, with its right proof
    ])
    func aMalformedNonceOrProofIsForbidden(_ fields: String, _ reason: String) throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let query = fields.contains("proof") ? fields : fields + "&proof=" + JoinRequest.proof(secret: "s3cret", name: "m1", nonce: "abc")
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub, directory: root)
        try channel.writeInbound(ByteBuffer(string: "GET /casty/v1/join?v=3&name=m1&\(query) HTTP/1.0\r\n\r\n"))
        self.loop.run()
        let (head, body) = EmbeddedNode.split(try EmbeddedNode.received(channel))
        #expect(head.hasPrefix("HTTP/1.0 403 Forbidden\r\n"))
        #expect(String(decoding: body, as: UTF8.self).contains(reason))
    }

    @Test func aNodeWithoutAFleetTakesNoPeers() throws {
        let channel = EmbeddedChannel(loop: self.loop)
        try EmbeddedNode.serve(channel, hub: self.hub)
        try channel.writeInbound(ByteBuffer(string: "GET \(JoinRequest(name: "m1", from: nil, stream: nil, secret: "s").target) HTTP/1.0\r\n\r\n"))
        self.loop.run()
        #expect(String(decoding: try EmbeddedNode.received(channel), as: UTF8.self).hasPrefix("HTTP/1.0 404 Not Found\r\n"))
    }
}
