import CastyICY
import CastyPeerProtocol
import CastyStream
import NIOCore
import NIOEmbedded
import Testing
import Dispatch

@testable import CastyServer

/// The hub of a fleet's ingest that is not the root: its own radio kept aside while the root's
/// segments are the stream, the takeover's splice, and the step down; no sockets.
@Suite struct StandbyHubTests {
    /// Audio in which no 2 KiB repeat.
    static let radio: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<80_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()

    static func segment(_ range: Range<Int>) -> ICYSegment {
        ICYSegment(audio: ByteBuffer(bytes: Self.radio[range]))
    }

    static let rootContext = StreamContext(headers: ["Content-Type": "audio/mpeg", "icy-name": "Root"])
    static let ownContext = StreamContext(headers: ["Content-Type": "audio/mpeg", "icy-name": "Own"])

    let loop = EmbeddedEventLoop()
    let hub: StreamHub

    init() {
        self.hub = StreamHub(group: self.loop, logger: EmbeddedNode.quiet)
    }

    func audio() -> [UInt8] {
        self.hub.peerJoin(from: 0).entries.flatMap { Array($0.numbered.segment.audio.readableBytesView) }
    }

    @Test func theOwnRadioWaitsAsideUntilTheTakeoverThenContinuesTheRootsAudio() {
        self.hub.standBy()
        self.hub.radioConnected(Self.ownContext)
        self.hub.setRadioState(.connected)
        // The own radio runs 5,000 bytes ahead of the root's last segment.
        for start in stride(from: 20_000, to: 35_000, by: 5_000) { self.hub.publish(Self.segment(start..<(start + 5_000))) }
        #expect(self.hub.newestSeq == nil, "the own radio's segments are kept, not numbered")
        #expect(self.hub.context.headers.isEmpty)
        #expect(self.hub.snapshot().upstream == .starting, "the upstream of a follower is its link to the root")
        #expect(self.hub.takeArrival() == nil)

        for seq in 0..<3 { self.hub.receive(seq: UInt64(seq), segment: Self.segment((seq * 10_000)..<((seq + 1) * 10_000))) }
        #expect(self.hub.newestSeq == 2)
        let arrival = self.hub.takeArrival()
        #expect(arrival?.seq == 2)
        #expect(self.hub.takeArrival() == nil, "an arrival is told once")

        let outcome = self.hub.takeOver()
        #expect(outcome == .spliced(repeatedBytes: 10_000))
        #expect(self.hub.context == Self.ownContext, "the root gave no context: the own radio's is the stream's")
        #expect(self.hub.snapshot().upstream == .connected)
        #expect(self.hub.newestSeq == 3, "numbered on from the root's last segment")
        // Cut at the radio's segment size, as its own connection's decoder cuts.
        self.hub.publish(Self.segment(35_000..<45_000))
        self.hub.receive(seq: 6, segment: Self.segment(0..<10_000))
        #expect(self.hub.takeArrival() == nil, "nothing more is taken from the old root")
        #expect(self.hub.peerJoin(from: 0).entries.map(\.seq) == [0, 1, 2, 3, 4, 5])
        #expect(self.audio() == Array(Self.radio[0..<45_000]), "no gap, no repeat")
        #expect(self.hub.takeOver() == nil, "a second takeover does nothing")
        #expect(self.hub.newestSeq == 5)
    }

    @Test func aTakeoverKeepsTheContextTheRootGave() {
        self.hub.standBy()
        self.hub.radioConnected(Self.ownContext)
        self.hub.setContext(Self.rootContext)
        self.hub.receive(seq: 0, segment: Self.segment(0..<10_000))
        self.hub.publish(Self.segment(5_000..<15_000))
        self.hub.takeOver()
        #expect(self.hub.context == Self.rootContext)
        // A reconnect of the own radio after the takeover is the stream's context.
        self.hub.radioConnected(Self.ownContext)
        #expect(self.hub.context == Self.ownContext)
    }

    @Test func aRootThatStepsDownDropsItsNumberingAndKeepsItsRadioAsideAgain() {
        self.hub.standBy()
        self.hub.setRadioState(.connected)
        self.hub.receive(seq: 0, segment: Self.segment(0..<10_000))
        self.hub.publish(Self.segment(5_000..<10_000))
        self.hub.publish(Self.segment(10_000..<15_000))
        self.hub.takeOver()
        self.hub.publish(Self.segment(15_000..<20_000))
        #expect(self.hub.newestSeq == 2)

        self.hub.standBy(resettingStream: true)
        #expect(self.hub.identity.value == "none")
        #expect(self.hub.nextSeq == nil)
        self.hub.publish(Self.segment(25_000..<30_000))
        self.hub.publish(Self.segment(30_000..<35_000))
        self.hub.setRadioState(.retrying(after: .seconds(1), cause: "reset"))
        #expect(self.hub.newestSeq == nil, "its own radio no longer reaches its listeners")
        #expect(self.hub.snapshot().upstream == .connected, "the radio's state is kept aside again")

        // It follows the new root's numbers, and can take over again.
        self.hub.receive(seq: 40, segment: Self.segment(30_000..<40_000))
        #expect(self.hub.newestSeq == 40)
        #expect(self.hub.takeArrival()?.seq == 40)
        self.hub.publish(Self.segment(35_000..<40_000))
        self.hub.publish(Self.segment(40_000..<45_000))
        self.hub.takeOver()
        #expect(self.hub.newestSeq == 41)
        #expect(self.hub.peerJoin(from: 40).entries.flatMap { Array($0.numbered.segment.audio.readableBytesView) } == Array(Self.radio[30_000..<45_000]))
        #expect(self.hub.snapshot().upstream == .retrying(after: .seconds(1), cause: "reset"))
    }

    @Test func anIngestWithoutAStandbyNumbersItsRadioAtOnce() {
        self.hub.radioConnected(Self.ownContext)
        self.hub.setRadioState(.connected)
        self.hub.publish(Self.segment(0..<10_000))
        #expect(self.hub.newestSeq == 0)
        #expect(self.hub.context == Self.ownContext)
        #expect(self.hub.snapshot().upstream == .connected)
        #expect(self.hub.takeOver() == nil, "no takeover without a standby")
        #expect(self.hub.takeArrival() == nil)
    }
}

/// The hub's hand-off to the loops: segments numbered on two threads at once (a standby's radio
/// and its takeover do that) reach every loop's fan-out in number order.
@Suite struct HubHandoffTests {
    @Test func segmentsNumberedOnTwoThreadsReachTheLoopInOrder() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let hub = StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: loop, logger: EmbeddedNode.quiet)
        let segment = ICYSegment(audio: ByteBuffer(bytes: Array(repeating: 0x55, count: 100)))
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            for _ in 0..<2_000 { hub.publish(segment) }
        }
        await loop.run()
        let kept = try await loop.submit { hub.fanouts[0].recent.catchUp(from: 0, before: .max).map(\.seq) }.get()
        #expect(kept == Array(0..<4_000), "a segment handed on out of order empties the fan-out's window")
        await loop.shutdownGracefully()
    }
}
