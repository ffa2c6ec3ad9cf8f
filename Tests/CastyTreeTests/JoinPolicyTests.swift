import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// The join policy as a pure value: decisions, not HTTP codes.
@Suite struct JoinPolicyTests {
    static let fleet = FleetFile.test(mirrors: 1...7)

    static func join(_ name: String, from: UInt64? = nil, stream: String? = nil, lost: String? = nil, observer: Bool = false, secret: String = "s3cret") -> JoinRequest {
        JoinRequest(name: name, from: from, stream: stream, lost: lost, observer: observer, secret: secret)
    }

    @Test func rootPlacesMirrorsByRedirectingToTheirParent() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        let decisions = (1...7).map { root.decide(Self.join("m\($0)"), now: Date()).0 }
        #expect(decisions[0] == .accept(depth: 1, path: ["root"]))
        #expect(decisions[1] == .accept(depth: 1, path: ["root"]))
        #expect(decisions[2] == .redirect(to: "m1"))
        #expect(decisions[6] == .redirect(to: "m3"))
        #expect(root.tree?.count == 7)
        #expect(root.isRoot && root.depth == 0 && root.parent == nil)
    }

    @Test func refusesWrongSecretVersionReplayStrangersAndStaleNonces() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        #expect(root.decide(Self.join("m1", secret: "guess"), now: Date()).0 == .refuse(.badProof))

        var otherVersion = Self.join("m1")
        otherVersion.version = 4
        #expect(root.decide(otherVersion, now: Date()).0 == .refuse(.unsupportedVersion(4)))
        let reason = JoinPolicy.Refusal.unsupportedVersion(4).reason(node: "root")
        #expect(reason.contains("versions 1 to 3") && reason.contains("not 4"))

        let good = Self.join("m1")
        #expect(root.decide(good, now: Date()).0 == .accept(depth: 1, path: ["root"]))
        #expect(root.decide(good, now: Date()).0 == .refuse(.replayedNonce))
        #expect(JoinPolicy.Refusal.replayedNonce.reason(node: "root") == "this join was already used (replayed nonce)")

        #expect(root.decide(Self.join("intruder"), now: Date()).0 == .refuse(.notAMirror("intruder")))
        #expect(root.decide(Self.join("root"), now: Date()).0 == .refuse(.notAMirror("root")), "not itself")
        #expect(root.decide(Self.join("m2"), now: Date().addingTimeInterval(3600)).0 == .refuse(.staleNonce), "an hour-old nonce")
        #expect(root.children == ["m1"], "refused joiners take no slot")
    }

    @Test func refusesNoncesLongerThanTheLimitSoRememberedNoncesStayBounded() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        var long = Self.join("m1")
        long.nonce += "-" + String(repeating: "a", count: PeerProtocol.maxNonceBytes)
        long.proof = JoinRequest.proof(secret: "s3cret", name: "m1", nonce: long.nonce)
        #expect(root.decide(long, now: Date()).0 == .refuse(.nonceTooLong))
        #expect(JoinPolicy.Refusal.nonceTooLong.reason(node: "root") == "the join's nonce is longer than 64 bytes")
        var longest = Self.join("m1")
        longest.nonce += "-" + String(repeating: "b", count: PeerProtocol.maxNonceBytes - longest.nonce.utf8.count - 1)
        longest.proof = JoinRequest.proof(secret: "s3cret", name: "m1", nonce: longest.nonce)
        #expect(longest.nonce.utf8.count == PeerProtocol.maxNonceBytes)
        #expect(root.decide(longest, now: Date()).0 == .accept(depth: 1, path: ["root"]))
    }

    @Test func aMirrorAlternatesRedirectsWhenFullAndAcceptsObservers() {
        var mirror = JoinPolicy(name: "m1", fleet: Self.fleet)
        #expect(mirror.decide(Self.join("m3"), now: Date()).0 == .refuse(.notInTree))
        #expect(JoinPolicy.Refusal.notInTree.reason(node: "m1") == "node m1 is not in the tree yet; join through the root")
        mirror.joined(parent: "root", depth: 1, path: ["root"])
        #expect(mirror.decide(Self.join("m3"), now: Date()).0 == .accept(depth: 2, path: ["root", "m1"]))
        #expect(mirror.decide(Self.join("m4"), now: Date()).0 == .accept(depth: 2, path: ["root", "m1"]))
        let targets = [5, 6, 7, 2].compactMap { index -> String? in
            if case .redirect(let to) = mirror.decide(Self.join("m\(index)"), now: Date()).0 { return to }
            return nil
        }
        #expect(targets == ["m3", "m4", "m3", "m4"])
        #expect(mirror.decide(Self.join("load-1", observer: true), now: Date()).0 == .accept(depth: 2, path: ["root", "m1"]))
        #expect(mirror.children == ["m3", "m4"])
        mirror.childLeft("m3")
        #expect(mirror.decide(Self.join("m5"), now: Date()).0 == .accept(depth: 2, path: ["root", "m1"]), "a freed slot takes the next joiner")
    }

    @Test func anAncestorJoiningIsRefusedSoTheTreeNeverHasACycle() {
        var mirror = JoinPolicy(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "m6", depth: 2, path: ["root", "m6"])
        #expect(mirror.decide(Self.join("m6"), now: Date()).0 == .refuse(.ancestor("m6")))
        #expect(JoinPolicy.Refusal.ancestor("m6").reason(node: "m1") == "'m6' is an ancestor of m1; m1 rejoins first")
        #expect(mirror.children.isEmpty)
    }

    @Test func aLostParentReportedByItsChildIsEvictedAndTheTreeStaysComplete() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.decide(Self.join("m\(index)"), now: Date()) }
        // m3 sits under m1; it reports m1 failed.
        let (decision, changes) = root.decide(Self.join("m3", from: 10, stream: "x", lost: "m1"), now: Date())
        #expect(changes == [.evict(node: "m1"), .relocate(node: "m7")], "only the moved mirror is told; the orphans are rejoining")
        #expect(decision == .redirect(to: "m7"), "m3 is sent to the mirror that took m1's place")
        #expect(root.tree?["m1"] == nil)
        #expect(root.tree?.count == 6)
        // A false report (m5 is not m2's parent) changes nothing.
        #expect(root.decide(Self.join("m2", lost: "m5"), now: Date()).1.isEmpty)
    }

    @Test func lossReportsFreeADeadLeafOnlyWhenTheReporterIsItsParent() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.decide(Self.join("m\(index)"), now: Date()) }
        #expect(root.tree?["m7"] == "m3")
        #expect(root.childLost(LossReport(reporter: "m1", child: "m7", secret: "s3cret"), now: Date()) == .success([]), "m1 is not m7's parent")
        #expect(root.childLost(LossReport(reporter: "m3", child: "m7", secret: "wrong"), now: Date()) == .failure(.badProof))
        let report = LossReport(reporter: "m3", child: "m7", secret: "s3cret")
        #expect(root.childLost(report, now: Date()) == .success([.evict(node: "m7")]), "the last node: nothing moves")
        #expect(root.childLost(report, now: Date()) == .failure(.replayedNonce))
        #expect(root.tree?["m7"] == nil)
        #expect(root.tree?.count == 6)
        var mirror = JoinPolicy(name: "m1", fleet: Self.fleet)
        #expect(mirror.childLost(LossReport(reporter: "m3", child: "m7", secret: "s3cret"), now: Date()) == .failure(.notRoot))
    }

    /// Issue 14: m1 fails; m7 (the last mirror, under m3, under m1) takes m1's place, but the
    /// relocate cannot reach it through dead m1, so m1's orphan m4 is sent to m7 while m7 still
    /// has its old place, and inherits it. Once m7 joins its new place, m4 must learn its own, or
    /// it refuses a legitimate child (m3) as "an ancestor".
    @Test func aMovedMirrorsChildLearnsItsNewPlaceAndRefusesNoLegitimateChild() {
        var m7 = JoinPolicy(name: "m7", fleet: Self.fleet)
        let first = m7.joined(parent: "m3", depth: 3, path: ["root", "m1", "m3"])
        #expect(first)
        #expect(m7.decide(Self.join("m4", lost: "m1"), now: Date()).0 == .accept(depth: 4, path: ["root", "m1", "m3", "m7"]))
        var m4 = JoinPolicy(name: "m4", fleet: Self.fleet)
        m4.joined(parent: "m7", depth: 4, path: ["root", "m1", "m3", "m7"])
        var stale = m4
        #expect(stale.decide(Self.join("m3"), now: Date()).0 == .refuse(.ancestor("m3")), "the defect: a stale path refuses m3")

        // m7 takes its new place under the root; its child hears its own.
        let moved = m7.joined(parent: "root", depth: 1, path: ["root"])
        #expect(moved, "the place changed")
        let again = m7.joined(parent: "root", depth: 1, path: ["root"])
        #expect(!again, "the same place again is no change")
        let place = m7.childPlace
        #expect(place?.depth == 2 && place?.path == ["root", "m7"])
        #expect(m4.moved(depth: 2, path: ["root", "m7"]) == .changed)
        #expect(m4.depth == 2 && m4.path == ["root", "m7"] && m4.parent == "m7")
        #expect(m4.moved(depth: 2, path: ["root", "m7"]) == .unchanged, "told twice, changed once")
        #expect(m4.childPlace?.depth == 3 && m4.childPlace?.path == ["root", "m7", "m4"], "and so on down its subtree")
        #expect(m4.decide(Self.join("m3"), now: Date()).0 == .accept(depth: 3, path: ["root", "m7", "m4"]))
    }

    @Test func aPlaceFromAnotherParentIsIgnoredAndOneNamingThisNodeIsStale() {
        var m4 = JoinPolicy(name: "m4", fleet: Self.fleet)
        #expect(m4.moved(depth: 1, path: ["root"]) == .unchanged, "no parent yet")
        m4.joined(parent: "m2", depth: 2, path: ["root", "m2"])
        #expect(m4.moved(depth: 2, path: ["root", "m5"]) == .unchanged, "m5 is not m4's parent")
        #expect(m4.moved(depth: 3, path: ["root", "m2"]) == .unchanged, "depth and path disagree")
        #expect(m4.moved(depth: 3, path: ["root", "m4", "m2"]) == .stale, "a cycle: m4 must rejoin")
        #expect(m4.depth == 2 && m4.path == ["root", "m2"])
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        #expect(root.moved(depth: 1, path: ["root"]) == .unchanged)
        #expect(root.childPlace?.depth == 1 && root.childPlace?.path == ["root"])
    }

    @Test func aLeavingMirrorsPlaceIsFreedAtOnce() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.decide(Self.join("m\(index)"), now: Date()) }
        #expect(root.left(LeaveNotice(name: "m2", secret: "wrong"), now: Date()) == .failure(.badProof))
        let notice = LeaveNotice(name: "m2", secret: "s3cret")
        #expect(root.left(notice, now: Date()) == .success([.evict(node: "m2"), .relocate(node: "m7")]))
        #expect(root.left(notice, now: Date()) == .failure(.replayedNonce))
        #expect(root.tree?["m2"] == nil)
        #expect(root.tree?["m7"] == "root", "the last mirror took m2's place")
        #expect(root.decide(Self.join("m5"), now: Date()).0 == .redirect(to: "m7"), "m2's children are sent to m7, not to m2's closed port")
        #expect(root.left(LeaveNotice(name: "m2", secret: "s3cret"), now: Date()) == .success([]), "a mirror without a place changes nothing")
        var mirror = JoinPolicy(name: "m1", fleet: Self.fleet)
        #expect(mirror.left(LeaveNotice(name: "m2", secret: "s3cret"), now: Date()) == .failure(.notRoot))
    }

    @Test func theNonceRecordIsBounded() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        let first = Self.join("load-0", observer: true)
        #expect(root.admit(first, now: Date()).0 == .accept(depth: 1, path: ["root"]))
        for index in 1...JoinPolicy.rememberedNonces {
            var request = first
            request.nonce = "n\(index)"
            _ = root.admit(request, now: Date())
        }
        #expect(root.admit(first, now: Date()).0 == .accept(depth: 1, path: ["root"]), "the oldest nonce was forgotten")
    }

    /// A storm of joins at the root (every mirror's children rejoining at once) is let in at the
    /// admission's pace: the first burst at once, the rest told to come back, observers never.
    @Test func theRootRefusesJoinsBeyondItsBurstWithATimeToComeBack() {
        let fleet = FleetFile.test(mirrors: 1...300)
        var root = JoinPolicy(name: "root", fleet: fleet)
        let now = Date()
        let decisions = (1...300).map { root.decide(Self.join("m\($0)"), now: now).0 }
        let burst = JoinAdmission.rootDefault.burst
        #expect(decisions.prefix(burst).allSatisfy { if case .refuse = $0 { false } else { true } })
        for decision in decisions.dropFirst(burst) {
            guard case .refuse(.busy(let milliseconds)) = decision else {
                Issue.record("expected busy, got \(decision)")
                continue
            }
            #expect(milliseconds >= 1 && milliseconds <= 2)
        }
        #expect(root.decide(Self.join("watcher", observer: true), now: now).0 != .refuse(.busy(retryAfterMilliseconds: 1)))
        // A refused mirror that comes back later is placed.
        if case .refuse = root.decide(Self.join("m300"), now: now.addingTimeInterval(0.5)).0 { Issue.record("m300 refused after 0.5 s") }
        // A mirror's node never paces the joins it takes.
        var mirror = JoinPolicy(name: "m1", fleet: fleet)
        mirror.joined(parent: "root", depth: 1, path: ["root"])
        let atMirror = (2...300).map { mirror.decide(Self.join("m\($0)"), now: now).0 }
        #expect(!atMirror.contains { if case .refuse(.busy) = $0 { true } else { false } })
    }

    /// A failed node's children resume from the mirror moved into its place, so that mirror must
    /// have a stream. Here the last mirror (m9) is an orphan still rejoining when m1 fails: the
    /// last leaf that streams (m8) fills m1's place instead, and m9 is told its new place.
    @Test func aMirrorStillRejoiningIsNotMovedIntoAFailedNodesPlace() {
        let fleet = FleetFile.test(mirrors: 1...10)
        var root = JoinPolicy(name: "root", fleet: fleet)
        for index in 1...10 { _ = root.decide(Self.join("m\(index)"), now: Date()) }
        // Heap order: m3, m4 under m1; m7, m8 under m3; m9, m10 under m4.
        #expect(root.tree?["m9"] == "m4" && root.tree?["m8"] == "m3")
        // m4 fails: m10 fills its place; m9, its orphan, is expected and is now the last mirror.
        #expect(root.childLost("m4", reporter: "m1", now: Date()) == [.evict(node: "m4"), .relocate(node: "m10")])
        #expect(root.tree?["m9"] == "m10")

        // m1 fails before m9 rejoined: m8, not m9, fills m1's place.
        let changes = root.childLost("m1", reporter: "root", now: Date())
        #expect(changes == [.evict(node: "m1"), .relocate(node: "m8"), .relocate(node: "m9")])
        #expect(root.tree?["m8"] == "root")
        #expect(root.tree?["m3"] == "m8" && root.tree?["m10"] == "m8", "m1's children rejoin under m8")
        #expect(root.tree?["m9"] == "m3", "m9 takes m8's place")
        #expect(root.tree?.count == 8)
        // All of them are expected, and m9's loss is believed from the parent it had (m10).
        #expect(root.expectedRejoins == 6, "m4, m1 evicted; m8, m9 moved; m3, m10 orphaned")
        #expect(root.childLost("m9", reporter: "m10", now: Date()).first == .evict(node: "m9"))
    }
}
