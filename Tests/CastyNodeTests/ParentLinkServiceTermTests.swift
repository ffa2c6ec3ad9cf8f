import CastyTree
import CastyICY
import CastyNode
import CastyPeerProtocol
import CastyUpstream
import NIOCore
import NIOPosix
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import CastyServer

/// A mirror's link in a fleet with a standby root: the root claim in its parent's reply and in
/// `term` frames, passed on to children that take them; a stale parent is left.
@Suite struct ParentLinkServiceTermTests {
    static func claimHeaders(_ term: UInt64, _ root: String) -> HTTPHeaders {
        ["Casty-Term": "\(term)", "Casty-Root": root]
    }

    static func segment() -> ICYSegment { ICYSegment(audio: ByteBuffer(bytes: [UInt8](repeating: 7, count: 100))) }

    @Test func claimsAreFollowedPassedOnAndAStaleParentIsLeft() async throws {
        try await ParentLinkServiceTests.Mirror.running { mirror in
            mirror.parent.accept(ParentLinkServiceTests.acceptance(stream: "s1", nextSeq: 0, headers: Self.claimHeaders(1, "root")))
            #expect(mirror.directory.claim == TermRule.Claim(term: 1, root: "root"))
            mirror.parent.send(.data(seq: 0, segment: Self.segment()))
            var child = try await mirror.child()
            _ = try await child.frames()

            // The standby took over: the claim comes down in a term frame and goes on down.
            mirror.parent.send(.term(2, root: "root2"))
            #expect(mirror.directory.claim == TermRule.Claim(term: 2, root: "root2"))
            #expect(mirror.parent.relocations == 0)
            // This child sent no term: it gets no term frame.
            #expect(try await child.frames().filter { if case .term = $0 { true } else { false } }.isEmpty)
            // A child that sent a term gets the next claim adopted.
            var termChild = try await Self.child(of: mirror, term: 2)
            _ = try await termChild.frames()
            mirror.parent.send(.term(3, root: "root"))
            #expect(try await termChild.frames().contains(.term(3, root: "root")))
            #expect(try await child.frames().filter { if case .term = $0 { true } else { false } }.isEmpty)

            // A parent under the older root of term 2: left. (The link then hands on nothing more of
            // that parent, not even the rest of the chunk that carried this frame: its transfer's
            // stop condition, tested in CastyUpstreamTests' SegmentPathTests.)
            mirror.parent.send(.term(2, root: "root2"))
            #expect(mirror.parent.relocations == 1)
            #expect(mirror.hub.nextSeq == 1)
            // A reply under a stale root is left at once, before anything of it is taken.
            mirror.parent.accept(ParentLinkServiceTests.acceptance(stream: "other", nextSeq: 50, headers: Self.claimHeaders(2, "root2")))
            #expect(mirror.parent.relocations == 2)
            #expect(mirror.hub.identity.value == "s1")
            // The next parent is under the root of term 3: taken.
            mirror.parent.accept(ParentLinkServiceTests.acceptance(parent: "m2", stream: "s1", nextSeq: 1, headers: Self.claimHeaders(3, "root")))
            mirror.parent.send(.data(seq: 1, segment: Self.segment()))
            #expect(mirror.hub.nextSeq == 2)
            #expect(mirror.parent.relocations == 2)
        }
    }

    /// An observer that joins `mirror` with `term` (so it takes `term` frames), its accept head read.
    static func child(of mirror: ParentLinkServiceTests.Mirror, term: UInt64) async throws -> ParentLinkServiceTests.Child {
        let channel = NIOAsyncTestingChannel(loop: mirror.loop)
        try await mirror.loop.executeInContext { [hub = mirror.hub, directory = mirror.directory] in
            try channel.pipeline.syncOperations.addHandler(PeerConnectionHandler(hub: hub, directory: directory, hooks: PeerHooks(), logger: quiet))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9))
        let request = JoinRequest(name: "listener", from: nil, stream: nil, observer: true, term: term, secret: ParentLinkServiceTests.fleet.secret)
        try await channel.writeInbound(ICYRequestHead(target: request.target))
        await mirror.loop.run()
        var head = ByteBuffer()
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) {
            head.writeImmutableBuffer(buffer)
            if String(buffer: head).contains("\r\n\r\n") { break }
        }
        #expect(String(buffer: head).hasPrefix("HTTP/1.0 200 OK"))
        #expect(String(buffer: head).contains("Casty-Term: 2\r\nCasty-Root: root2\r\n"), "the reply names the claim followed")
        return ParentLinkServiceTests.Child(channel: channel, loop: mirror.loop)
    }
}
