import Atomics
import CastyMedia
import CastyStream
import CastyTree
import CastyUpstream
import CastyICY
import CastyNode
import CastyPeerProtocol
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import CastyTreeTestSupport
import CastyTestSupport

@testable import CastyServer

/// A mirror's parent link service, over a fake parent link: no curl, no sockets. The hub runs on
/// a testing event loop, where a child peer on a testing channel shows what children get.
@Suite(.timeLimit(.minutes(1))) struct ParentLinkServiceTests {
    static let fleet = FleetFile.test(mirrors: 1...2, port: 8000)

    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)

    /// A mirror's hub and directory, and its service running over a fake parent while `body` runs.
    struct Mirror {
        let loop: NIOAsyncTestingEventLoop
        let hub: StreamHub
        let directory: PeerDirectory
        let parent: FakeParent

        static func running(_ body: (Mirror) async throws -> Void) async throws {
            let loop = NIOAsyncTestingEventLoop()
            let mirror = Mirror(
                loop: loop,
                hub: StreamHub(identity: StreamIdentity(value: "none"), nextSeq: nil, group: loop, logger: quiet),
                directory: PeerDirectory(name: "m1", fleet: ParentLinkServiceTests.fleet),
                parent: FakeParent()
            )
            try await whileRunning(ParentLinkService(link: mirror.parent, hub: mirror.hub, directory: mirror.directory)) {
                try await eventually("the link to start") { mirror.parent.started }
                try await body(mirror)
            }
            #expect(mirror.parent.stopped, "graceful shutdown stops the link")
            await loop.shutdownGracefully()
        }

        /// A child peer (protocol version 3) joined to this mirror now, through the peer
        /// connection handler the server gives a join; its accept head is read already.
        func child() async throws -> Child {
            let channel = NIOAsyncTestingChannel(loop: self.loop)
            try await self.loop.executeInContext { [hub, directory] in
                try channel.pipeline.syncOperations.addHandler(PeerConnectionHandler(hub: hub, directory: directory, hooks: PeerHooks(), logger: quiet))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9))
            let request = JoinRequest(name: "m2", from: nil, stream: nil, secret: ParentLinkServiceTests.fleet.secret)
            try await channel.writeInbound(ICYRequestHead(target: request.target))
            await self.loop.run()
            var head = ByteBuffer()
            while true {
                guard let buffer = try await channel.readOutbound(as: ByteBuffer.self) else { break }
                head.writeImmutableBuffer(buffer)
                if String(buffer: head).contains("\r\n\r\n") { break }
            }
            let text = String(buffer: head)
            #expect(text.hasPrefix("HTTP/1.0 200 OK"), "the child is accepted: \(text)")
            var child = Child(channel: channel, loop: self.loop)
            // Frames written with the head (none before the first segment) stay for frames().
            if let end = text.range(of: "\r\n\r\n") {
                var rest = head
                rest.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: end.upperBound))
                child.pending = rest
            }
            return child
        }
    }

    /// What a child peer is sent.
    struct Child {
        let channel: NIOAsyncTestingChannel
        let loop: NIOAsyncTestingEventLoop
        var decoder = PeerFrameDecoder()
        /// Bytes read with the accept head that belong to frames.
        var pending = ByteBuffer()

        /// The frames sent since the last call.
        mutating func frames() async throws -> [PeerFrame] {
            await self.loop.run()
            var bytes = self.pending
            self.pending = ByteBuffer()
            while let buffer = try await self.channel.readOutbound(as: ByteBuffer.self) { bytes.writeImmutableBuffer(buffer) }
            var frames: [PeerFrame] = []
            while let frame = try self.decoder.decode(buffer: &bytes) { frames.append(frame) }
            return frames
        }
    }

    static func acceptance(parent: String = "root", stream: String, nextSeq: UInt64?, headers: HTTPHeaders = [:], metadata: String? = nil) -> ParentAcceptance {
        var head = ICYResponseHead(status: .http10OK, headers: ["Content-Type": PeerProtocol.contentType])
        head.headers.add(contentsOf: headers)
        return ParentAcceptance(
            parent: parent, stream: stream, nextSeq: nextSeq, depth: 1, path: [parent],
            metadata: metadata.map { ByteBuffer(string: $0) }, head: head
        )
    }

    @Test func aMirrorWithNoStreamAsksForNone() async throws {
        try await Mirror.running { mirror in
            #expect(mirror.parent.position.stream == nil)
            #expect(mirror.parent.position.nextSeq == nil)
            #expect(mirror.hub.snapshot().upstream == .starting)
        }
    }

    @Test func anAcceptanceIsTaken() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(
                Self.acceptance(
                    stream: "s1", nextSeq: 5, headers: ["icy-name": "Test FM", "icy-genre": "Jazz"],
                    metadata: "StreamTitle='Artist - Mid Track';"
                )
            )
            let hub = mirror.hub
            #expect(hub.identity.value == "s1")
            #expect(hub.nextSeq == 5)
            #expect(hub.context.name == "Test FM")
            #expect(hub.context.headers.first(name: "content-type") == nil, "the join reply's own content type is the peer protocol's")
            #expect(hub.snapshot().title == "Artist - Mid Track")
            #expect(mirror.directory.place.parent == "root")
            #expect(mirror.directory.place.depth == 1)
            #expect(hub.snapshot().upstream == .connectedTo("root"))
            #expect(hub.snapshot().upstream.description == "connected to root")
            #expect(mirror.parent.position.stream == "s1")
            #expect(mirror.parent.position.nextSeq == 5)
            #expect(hub.counters.values.reconnects == 0, "the first join is no rejoin")
        }
    }

    @Test func aParentWithoutContextLeavesTheMirrorsContext() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5, headers: ["icy-name": "Test FM"]))
            mirror.parent.accept(Self.acceptance(parent: "m2", stream: "s1", nextSeq: 9))
            #expect(mirror.hub.context.name == "Test FM")
            #expect(mirror.hub.snapshot().upstream == .connectedTo("m2"))
        }
    }

    @Test func aNewStreamIdentityResetsTheHubAndSendsChildrenToRejoin() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5))
            mirror.parent.send(.data(seq: 5, segment: ICYSegment(audio: ByteBuffer(bytes: Self.mp3Frame))))
            #expect(mirror.hub.newestSeq == 5)
            var child = try await mirror.child()
            _ = try await child.frames()

            // The same stream again (a rejoin): nothing is reset.
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 6))
            #expect(mirror.hub.newestSeq == 5)
            #expect(try await child.frames().isEmpty)

            // A restarted ingest's stream.
            mirror.parent.accept(Self.acceptance(stream: "s2", nextSeq: 0))
            #expect(mirror.hub.identity.value == "s2")
            #expect(mirror.hub.nextSeq == 0)
            #expect(mirror.hub.newestSeq == nil, "the ring was emptied")
            #expect(try await child.frames() == [.leave(reason: "the stream changed; rejoin to resync")])
            #expect(mirror.hub.counters.values.reconnects == 2)
        }
    }

    @Test func framesGoWhereTheyBelong() async throws {
        try await Mirror.running { mirror in
            let hub = mirror.hub
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5))
            var child = try await mirror.child()

            let segment = ICYSegment(audio: ByteBuffer(bytes: Self.mp3Frame))
            mirror.parent.send(.data(seq: 5, segment: segment))
            #expect(hub.newestSeq == 5)
            #expect(hub.nextSeq == 6)
            #expect(try await child.frames() == [.data(seq: 5, segment: segment)])

            mirror.parent.send(.heartbeat(newestSeq: 9))
            #expect(hub.parentNewestSeq.load(ordering: .relaxed) == 9)
            #expect(hub.lagSegments == 4)

            mirror.parent.send(.tree(.relocate(node: "m2")))
            #expect(try await child.frames() == [.tree(.relocate(node: "m2"))])

            mirror.parent.send(.context(["Content-Type": "audio/aacp", "icy-name": "Other FM"]))
            #expect(hub.context.name == "Other FM")
            #expect(hub.snapshot().format == .aac)
            #expect(try await child.frames() == [.context(["Content-Type": "audio/aacp", "icy-name": "Other FM"])])

            mirror.parent.send(.leave(reason: "bye"))
            #expect(try await child.frames().isEmpty)
        }
    }

    @Test func codecHeadersFromTheParentAreTaken() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5))
            mirror.parent.send(.context(["Content-Type": "audio/ogg"]))
            #expect(mirror.hub.snapshot().title == nil)
            mirror.parent.send(.codecHeaders(ByteBuffer(bytes: OggOpus.headerPages(artist: "Artist", title: "Song"))))
            #expect(mirror.hub.snapshot().title == "Artist - Song")
        }
    }

    static func acceptance(parent: String, depth: Int, path: [String]) -> ParentAcceptance {
        var acceptance = Self.acceptance(parent: parent, stream: "s1", nextSeq: 5)
        acceptance.depth = depth
        acceptance.path = path
        return acceptance
    }

    /// Issue 14: a node's place is passed down its whole subtree whenever it changes.
    @Test func aNewPlaceIsTakenAndPassedOnToTheChildren() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(parent: "m9", depth: 2, path: ["root", "m9"]))
            var child = try await mirror.child()
            _ = try await child.frames()

            // An ancestor moved: the parent tells this node its new place, and it tells its child.
            mirror.parent.send(.place(depth: 3, path: ["root", "m5", "m9"]))
            #expect(mirror.directory.place.depth == 3)
            #expect(mirror.directory.place.parent == "m9")
            #expect(try await child.frames() == [.place(depth: 4, path: ["root", "m5", "m9", "m1"])])

            // The same place again changes nothing and sends nothing.
            mirror.parent.send(.place(depth: 3, path: ["root", "m5", "m9"]))
            #expect(try await child.frames().isEmpty)

            // A place that names this node is a cycle: the node rejoins through the root.
            mirror.parent.send(.place(depth: 3, path: ["root", "m1", "m9"]))
            #expect(mirror.parent.relocations == 1)
            #expect(mirror.directory.place.depth == 3)

            // The root moved this node: its new parent accepted it at depth 1.
            mirror.parent.accept(Self.acceptance(parent: "root", depth: 1, path: ["root"]))
            #expect(mirror.directory.place.depth == 1)
            #expect(try await child.frames() == [.place(depth: 2, path: ["root", "m1"])])
        }
    }

    /// The root moved an evicted node's children under another mirror: they must go there.
    @Test func anEvictedNodeSendsItsChildMirrorsAway() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5))
            var child = try await mirror.child()
            _ = try await child.frames()
            mirror.parent.send(.tree(.evict(node: "m9")))
            #expect(try await child.frames() == [.tree(.evict(node: "m9"))], "another node's eviction is only passed on")
            mirror.parent.send(.tree(.evict(node: "m1")))
            #expect(try await child.frames() == [.tree(.evict(node: "m1")), .leave(reason: "this node was evicted by the root; rejoin")])
            #expect(mirror.directory.place.children.isEmpty)
        }
    }

    @Test func gracefulShutdownStopsTheLinkThenTellsTheRoot() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let parent = FakeParent()
        let stoppedFirst = ManagedAtomic(0)
        let hub = StreamHub(identity: StreamIdentity(value: "none"), nextSeq: nil, group: loop, logger: quiet)
        let service = ParentLinkService(link: parent, hub: hub, directory: PeerDirectory(name: "m1", fleet: Self.fleet)) {
            stoppedFirst.store(parent.stopped ? 1 : 2, ordering: .relaxed)
        }
        try await whileRunning(service) {
            try await eventually("the link to start") { parent.started }
            #expect(stoppedFirst.load(ordering: .relaxed) == 0)
        }
        #expect(stoppedFirst.load(ordering: .relaxed) == 1, "the root hears of the leave after the link stopped")
        await loop.shutdownGracefully()
    }

    @Test func aLinkDownIsARejoin() async throws {
        try await Mirror.running { mirror in
            mirror.parent.accept(Self.acceptance(stream: "s1", nextSeq: 5))
            mirror.parent.down("the parent went silent")
            #expect(mirror.hub.snapshot().upstream == .rejoining("the parent went silent"))
            #expect(mirror.hub.snapshot().upstream.description == "rejoining: the parent went silent")
            mirror.parent.accept(Self.acceptance(parent: "m2", stream: "s1", nextSeq: 7))
            #expect(mirror.hub.snapshot().upstream == .connectedTo("m2"))
            #expect(mirror.hub.counters.values.reconnects == 1)
        }
    }
}

/// The two header pages of an Ogg Opus stream, built in code.
enum OggOpus {
    static func le32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).littleEndian, Array.init) }

    /// One page holding one packet (shorter than 255 bytes), its CRC filled in.
    static func page(flags: OggPage.Flags, sequence: UInt32, packet: [UInt8]) -> [UInt8] {
        precondition(packet.count < 255)
        var page: [UInt8] = Array("OggS".utf8) + [0, flags.rawValue]
        page += [UInt8](repeating: 0, count: 8)  // granule position
        page += le32(0x1234) + le32(Int(sequence)) + [0, 0, 0, 0] + [1, UInt8(packet.count)] + packet
        page.replaceSubrange(22..<26, with: le32(Int(OggPage.crc(page))))
        return page
    }

    /// OpusHead and OpusTags with ARTIST and TITLE comments.
    static func headerPages(artist: String, title: String) -> [UInt8] {
        let head: [UInt8] = Array("OpusHead".utf8) + [1, 2, 0x38, 0x01] + le32(48000) + [0, 0, 0]
        let vendor = Array("casty-test".utf8)
        var tags = Array("OpusTags".utf8) + le32(vendor.count) + vendor + le32(2)
        for comment in ["ARTIST=\(artist)", "TITLE=\(title)"] { tags += le32(comment.utf8.count) + Array(comment.utf8) }
        return page(flags: .beginOfStream, sequence: 0, packet: head) + page(flags: [], sequence: 1, packet: tags)
    }
}
