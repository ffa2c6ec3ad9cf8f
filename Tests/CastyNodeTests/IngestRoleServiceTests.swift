import CastyTree
import CastyICY
import CastyNode
import CastyPeerProtocol
import CastyUpstream
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import CastyTestSupport
import CastyTreeTestSupport

@testable import CastyServer

/// The standby's service over a fake radio, fake links and a fake other ingest: it follows,
/// takes over splicing its radio onto the root's bytes, and steps down; no sockets.
@Suite struct IngestRoleServiceTests {
    static let fleet = FleetFile.test(mirrors: 1...1, port: 8000, standby: true)

    /// Audio in which no 2 KiB repeat.
    static let radio: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<120_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()

    static func segment(_ range: Range<Int>) -> ICYSegment {
        ICYSegment(audio: ByteBuffer(bytes: Self.radio[range]))
    }

    static func join(_ name: String, term: UInt64?) -> JoinRequest {
        JoinRequest(name: name, from: nil, stream: nil, term: term, secret: "s3cret")
    }

    @Test func theStandbyFollowsTakesOverWithoutAGapAndStepsDown() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let timing = IngestRole.Timing(silence: .seconds(30), grace: .milliseconds(200))
        let election = RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2", timing: timing))
        let directory = PeerDirectory(name: "root2", fleet: Self.fleet, election: election)
        let hub = StreamHub(group: loop, logger: quiet)
        let upstreams = FakeUpstreams()
        let links = NIOLockedValueBox<[(url: String, link: FakeParent)]>([])
        let other = NIOLockedValueBox(IngestRole.Answer.root(TermRule.Claim(term: 1, root: "root")))
        let service = IngestRoleService(
            fleet: Self.fleet,
            hub: hub,
            directory: directory,
            transports: .init(
                makeSource: upstreams.make,
                makeLink: { url, _ in
                    let link = FakeParent()
                    links.withLockedValue { $0.append((url, link)) }
                    return link
                },
                probe: { _ in other.withLockedValue { $0 } }
            ),
            tickInterval: .milliseconds(20),
            probeInterval: .milliseconds(100),
            logger: quiet
        )
        try await whileRunning(service) {
            try await eventually("a link to the primary") { links.withLockedValue { $0.first?.link.started } == true }
            let (url, link) = try #require(links.withLockedValue { $0.first })
            #expect(url == "http://127.0.0.1:8000")
            let accepted = try #require(link.state.withLockedValue { $0.onAccepted })
            let root = try #require(link.state.withLockedValue { $0.sink })
            let onDown = try #require(link.state.withLockedValue { $0.onDown })
            var head = ICYResponseHead(status: .http10OK, headers: ["Content-Type": PeerProtocol.contentType])
            head.headers.add(contentsOf: [("Casty-Term", "1"), ("Casty-Root", "root")])
            accepted(ParentAcceptance(parent: "root", stream: "abcdabcdabcdabcd", nextSeq: 0, depth: 1, path: ["root"], metadata: nil, head: head))
            #expect(hub.identity.value == "abcdabcdabcdabcd")

            // The root sends 100,000 bytes in 10 segments; the own radio is 5,000 bytes ahead.
            for seq in 0..<10 { root.receive(seq: UInt64(seq), segment: Self.segment((seq * 10_000)..<((seq + 1) * 10_000))) }
            let radio = try #require(upstreams.last)
            for start in stride(from: 30_000, to: 105_000, by: 5_000) { radio.send(Self.segment(start..<(start + 5_000))) }
            #expect(hub.nextSeq == 10)
            try await eventually("the role to hear of the root's segments") { election.read(\.nextSeq) == 10 }
            #expect(!election.read(\.isRoot))
            #expect(directory.decide(Self.join("m1", term: 1)).0 == .redirect(to: "root"))

            // The primary dies: the standby is root within the grace, numbering on, spliced.
            onDown("connection reset")
            let died = ContinuousClock.now
            try await eventually("the standby to take over") { election.read(\.isRoot) }
            #expect(ContinuousClock.now - died < atOnce, "a link down starts the 200 ms grace at once, not the 30 s of silence")
            try await eventually("the spliced segments") { hub.nextSeq == 11 }
            radio.send(Self.segment(105_000..<110_000))
            let entries = hub.peerJoin(from: 0).entries
            #expect(entries.map(\.seq) == Array(0...11))
            #expect(entries.flatMap { Array($0.numbered.segment.audio.readableBytesView) } == Array(Self.radio[0..<110_000]))
            #expect(link.stopped)
            #expect(directory.isRoot && directory.claim == TermRule.Claim(term: 2, root: "root2"))
            #expect(directory.decide(Self.join("m1", term: 1)).0 == .accept(depth: 1, path: ["root2"]))

            // The old primary is back in a higher term: the standby steps down and follows it.
            other.withLockedValue { $0 = .root(TermRule.Claim(term: 3, root: "root")) }
            try await eventually("the standby to step down") { !election.read(\.isRoot) && links.withLockedValue { $0.count } == 2 }
            #expect(!directory.isRoot && directory.tree == nil)
            #expect(hub.identity.value == "none", "what it numbered as root is dropped; it resyncs from the root")
            #expect(directory.decide(Self.join("m1", term: 3)).0 == .redirect(to: "root"))
            // Its own radio's segments no longer reach its listeners.
            radio.send(Self.segment(110_000..<115_000))
            #expect(hub.nextSeq == nil)
        }
        await loop.shutdownGracefully()
    }

    /// The role's silence clock counts from the last segment the hub took from the root, not from
    /// the link's acceptance: the hub notes each arrival, and the service tells the role before
    /// every change.
    @Test func theSilenceCountsFromTheLastSegmentFromTheRoot() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let timing = IngestRole.Timing(silence: .seconds(2), grace: .milliseconds(100))
        let election = RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2", timing: timing))
        let directory = PeerDirectory(name: "root2", fleet: Self.fleet, election: election)
        let hub = StreamHub(group: loop, logger: quiet)
        let links = NIOLockedValueBox<[FakeParent]>([])
        let service = IngestRoleService(
            fleet: Self.fleet,
            hub: hub,
            directory: directory,
            transports: .init(
                makeSource: FakeUpstreams().make,
                makeLink: { _, _ in
                    let link = FakeParent()
                    links.withLockedValue { $0.append(link) }
                    return link
                },
                probe: { _ in .root(TermRule.Claim(term: 1, root: "root")) }
            ),
            tickInterval: .milliseconds(20),
            probeInterval: .seconds(60),
            logger: quiet
        )
        try await whileRunning(service) {
            try await eventually("a link to the primary") { links.withLockedValue { $0.first?.started } == true }
            let link = try #require(links.withLockedValue { $0.first })
            let accepted = try #require(link.state.withLockedValue { $0.onAccepted })
            let root = try #require(link.state.withLockedValue { $0.sink })
            accepted(ParentAcceptance(parent: "root", stream: "abcdabcdabcdabcd", nextSeq: 0, depth: 1, path: ["root"], metadata: nil, head: ICYResponseHead(status: .http10OK)))
            // Segments for a second after the acceptance, then silence.
            var last = ContinuousClock.now
            for seq in 0..<10 {
                try await Task.sleep(for: .milliseconds(100))
                root.receive(seq: UInt64(seq), segment: Self.segment((seq * 1_000)..<((seq + 1) * 1_000)))
                last = ContinuousClock.now
            }
            try await eventually("the standby to take over") { election.read(\.isRoot) }
            let silent = ContinuousClock.now - last
            #expect(silent >= timing.silence, "took over \(silent) after the last segment: the silence counted from before it")
            #expect(election.read(\.nextSeq) == 10)
        }
        await loop.shutdownGracefully()
    }
}
