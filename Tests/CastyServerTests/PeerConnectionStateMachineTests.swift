import CastyHandover
import CastyPeerProtocol
import CastyTree
import CastyStream
import Foundation
import NIOCore
import Testing

@testable import CastyServer

/// The peer link's state machine as a pure value: events in, actions out, no channel, no clock.
@Suite struct PeerConnectionStateMachineTests {
    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func request(_ name: String = "m1", from: UInt64? = nil, stream: String? = nil, observer: Bool = false, version: Int = 2) -> JoinRequest {
        var request = JoinRequest(name: name, from: from, stream: stream, observer: observer, secret: "s")
        request.version = version
        return request
    }

    /// A machine whose join was accepted, with the next segment `next`.
    static func linked(_ request: JoinRequest = Self.request(), next: UInt64? = 10) -> PeerConnectionStateMachine {
        var machine = PeerConnectionStateMachine()
        _ = machine.headReceived(.success(request), takesPeers: true)
        _ = machine.joinDecided(.accept(depth: 1, path: ["root"]), streamIdentity: "s1")
        _ = machine.accepted(nextSeq: next, codecHeadersKnown: false, now: Self.t0)
        return machine
    }

    @Test func aBadTargetOrANodeWithoutAFleetIsAnsweredAtOnce() {
        struct Bad: Error, CustomStringConvertible { var description: String { "bad join" } }
        var bad = PeerConnectionStateMachine()
        #expect(bad.headReceived(.failure(Bad()), takesPeers: true) == .badRequest("bad join"))
        var lonely = PeerConnectionStateMachine()
        #expect(lonely.headReceived(.success(Self.request()), takesPeers: false) == .takesNoPeers)
        #expect(lonely.channelInactive() == .none)
    }

    @Test func refusalsAndRedirectsEndTheConnectionAndOnlyAnAncestorRelocatesThisNode() {
        var refused = PeerConnectionStateMachine()
        let request = Self.request()
        #expect(refused.headReceived(.success(request), takesPeers: true) == .decide(request))
        #expect(refused.joinDecided(.refuse(.badProof), streamIdentity: "s1") == .refuse(.badProof, relocateSelf: false))
        #expect(refused.channelInactive() == .none, "a refused joiner takes no slot")

        var ancestor = PeerConnectionStateMachine()
        _ = ancestor.headReceived(.success(Self.request("m6")), takesPeers: true)
        #expect(ancestor.joinDecided(.refuse(.ancestor("m6")), streamIdentity: "s1") == .refuse(.ancestor("m6"), relocateSelf: true))

        var redirected = PeerConnectionStateMachine()
        _ = redirected.headReceived(.success(Self.request()), takesPeers: true)
        #expect(redirected.joinDecided(.redirect(to: "m3"), streamIdentity: "s1") == .redirect(to: "m3"))
    }

    @Test func anAcceptedJoinCountsFromOnlyWithinTheSameStreamAndSpeaksTheLowerVersion() {
        var same = PeerConnectionStateMachine()
        _ = same.headReceived(.success(Self.request(from: 7, stream: "s1", version: 1)), takesPeers: true)
        #expect(same.joinDecided(.accept(depth: 2, path: ["root", "m1"]), streamIdentity: "s1") == .accept(depth: 2, path: ["root", "m1"], version: 1, from: 7))
        #expect(same.accepted(nextSeq: 7, codecHeadersKnown: true, now: Self.t0) == .catchUp, "version 1 links get no codec headers")

        var other = PeerConnectionStateMachine()
        _ = other.headReceived(.success(Self.request(from: 7, stream: "old")), takesPeers: true)
        #expect(other.joinDecided(.accept(depth: 1, path: ["root"]), streamIdentity: "s1") == .accept(depth: 1, path: ["root"], version: 2, from: nil))
        #expect(other.accepted(nextSeq: 3, codecHeadersKnown: true, now: Self.t0) == .sendCodecHeadersThenCatchUp)
        #expect(other.accepted(nextSeq: 3, codecHeadersKnown: true, now: Self.t0) == .sendCodecHeadersThenCatchUp)
    }

    @Test func dataFramesFollowTheCatchUpInOrderWithoutRepeats() {
        var machine = Self.linked(next: 10)
        machine.caughtUp(lastSeq: 12, now: Self.t0)
        #expect(machine.segment(12, now: Self.t0) == .skip)
        #expect(machine.segment(13, now: Self.t0) == .write(catchUpFrom: nil))
        #expect(machine.segment(16, now: Self.t0) == .write(catchUpFrom: 14))
        #expect(machine.link?.nextSeq == 17)
    }

    @Test func heartbeatsGoOnlyToIdleLinks() {
        var machine = Self.linked()
        #expect(machine.heartbeatTick(newestSeq: 9, now: Self.t0 + .milliseconds(100)) == .none)
        #expect(machine.heartbeatTick(newestSeq: 9, now: Self.t0 + .milliseconds(150)) == .send(.heartbeat(newestSeq: 9)))
        #expect(machine.heartbeatTick(newestSeq: 9, now: Self.t0 + .milliseconds(200)) == .none, "the heartbeat was a write")
        _ = machine.segment(10, now: Self.t0 + .milliseconds(300))
        #expect(machine.heartbeatTick(newestSeq: 10, now: Self.t0 + .milliseconds(400)) == .none, "data was a write")
    }

    @Test func aSlowChildGetsALeaveOnceAndNothingAfter() {
        var machine = Self.linked()
        _ = machine.segment(10, now: Self.t0)
        #expect(machine.written(isWritable: true, maxLagBytes: 64) == .none)
        #expect(machine.written(isWritable: false, maxLagBytes: 64) == .leaveTooSlow(reason: "too slow: more than 64 bytes behind"))
        #expect(machine.leave(reason: "too slow") == .sendLeaveAndClose(reason: "too slow"))
        #expect(machine.leave(reason: "again") == .none)
        #expect(machine.segment(11, now: Self.t0) == .skip)
        #expect(machine.heartbeatTick(newestSeq: 11, now: Self.t0 + .seconds(1)) == .none)
        #expect(machine.channelInactive() == .unlink(name: "m1", observer: false, died: false), "this node ended it: no loss")
    }

    @Test func aLinkThatDiesIsReportedAsDied() {
        var machine = Self.linked(Self.request("load-1", observer: true))
        #expect(machine.channelInactive() == .unlink(name: "load-1", observer: true, died: true))
    }

    @Test func treeChangesArePassedOnAndTheEvictedChildIsSentAway() {
        var machine = Self.linked(Self.request("m7"))
        #expect(machine.treeChange(.relocate(node: "m7"), now: Self.t0) == .send(.tree(.relocate(node: "m7"))))
        #expect(machine.treeChange(.evict(node: "m2"), now: Self.t0) == .send(.tree(.evict(node: "m2"))))
        #expect(machine.treeChange(.evict(node: "m7"), now: Self.t0) == .sendThenLeave(.tree(.evict(node: "m7")), reason: "evicted by the root"))
        _ = machine.leave(reason: "evicted by the root")
        #expect(machine.treeChange(.evict(node: "m1"), now: Self.t0) == .none)
    }

    @Test func contextFramesGoToVersion2LinksOnly() {
        let context = StreamContext(headers: ["Content-Type": "audio/ogg"])
        var v2 = Self.linked()
        #expect(v2.contextChanged(context, now: Self.t0) == .send(.context(context.headers)))
        var v1 = Self.linked(Self.request(version: 1))
        #expect(v1.contextChanged(context, now: Self.t0) == .none)
    }

    @Test func aNewPlaceGoesToVersion3LinksOnlyAndOnlyWhenItDiffers() {
        var current = Self.linked(Self.request(version: 3))
        #expect(current.placeChanged(depth: 1, path: ["root"], now: Self.t0) == .none, "the child was told this place in the accept head")
        #expect(current.placeChanged(depth: 2, path: ["root", "m4"], now: Self.t0) == .send(.place(depth: 2, path: ["root", "m4"])))
        #expect(current.link?.depth == 2 && current.link?.path == ["root", "m4"])
        #expect(current.placeChanged(depth: 2, path: ["root", "m4"], now: Self.t0) == .none, "told once")
        #expect(current.placeChanged(depth: 2, path: ["root", "m5"], now: Self.t0) == .send(.place(depth: 2, path: ["root", "m5"])))

        var old = Self.linked(Self.request(version: 2))
        #expect(old.placeChanged(depth: 2, path: ["root", "m4"], now: Self.t0) == .none, "a version 2 link cannot parse a place frame")

        var leaving = Self.linked(Self.request(version: 3))
        _ = leaving.leave(reason: "bye")
        #expect(leaving.placeChanged(depth: 2, path: ["root", "m4"], now: Self.t0) == .none)
    }

    @Test func shutdownSendsALeaveToLinkedChildrenOnly() {
        var machine = Self.linked()
        #expect(machine.shutdown(now: Self.t0) == .send(.leave(reason: "node shutting down")))
        var idle = PeerConnectionStateMachine()
        #expect(idle.shutdown(now: Self.t0) == .none)
    }

    /// Only a child whose join carried a term hears of a new root claim.
    @Test func termFramesGoOnlyToChildrenThatTakeThem() {
        var request = Self.request()
        request.term = 1
        var takes = Self.linked(request)
        #expect(takes.termChanged(TermRule.Claim(term: 2, root: "root2"), now: Self.t0) == .send(.term(2, root: "root2")))
        var old = Self.linked()
        #expect(old.termChanged(TermRule.Claim(term: 2, root: "root2"), now: Self.t0) == .none)
    }

    /// A link taken over from another process: silent until activated, then linked as it was; one
    /// whose socket closed meanwhile is a link that died.
    @Test func aResumedLinkIsServedOnceActivated() {
        let peer = HandoverState.Peer(name: "m4", observer: false, version: 3, nextSeq: 20, depth: 2, path: ["root", "m1"], takesTerm: true)
        var machine = PeerConnectionStateMachine(resuming: peer, unwritten: ByteBuffer(bytes: [9]), now: Self.t0)
        #expect(machine.channelInactive() == .none, "a close while resuming is the activation's")
        #expect(machine.handOverState == nil, "not served here yet")
        #expect(machine.activate(isActive: true) == .resume(unwritten: ByteBuffer(bytes: [9])))
        #expect(machine.handOverState == peer, "linked where it was, term frames included")
        #expect(machine.segment(20, now: Self.t0) == .write(catchUpFrom: nil))

        var closed = PeerConnectionStateMachine(resuming: peer, unwritten: ByteBuffer(), now: Self.t0)
        #expect(closed.activate(isActive: false) == .closedMeanwhile(name: "m4", observer: false))
        #expect(closed.state == .closed)
    }

    /// A handed-over link: the close of its channel is the other process's.
    @Test func aHandedOverLinkIgnoresItsClose() {
        var machine = Self.linked()
        machine.life.gave(ByteBuffer(bytes: [1, 2, 3]))
        let unwritten = machine.life.handOver(queued: 2)
        #expect(unwritten == Data([2, 3]))
        #expect(machine.channelInactive() == .none)
    }
}
