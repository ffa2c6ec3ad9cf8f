import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// The root's record of the mirrors it expects after a change of the tree, and the repair it
/// drives, with no clock but the one passed in.
@Suite struct PendingRejoinsTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test func anExpectedMirrorIsToldAgainEverySecondThenDeclaredFailed() {
        var pending = PendingRejoins()
        pending.expect("m7", reason: .moved, formerParent: "m3", now: self.start)
        #expect(pending.due(now: self.start.addingTimeInterval(0.5)) == ([], [], []))
        #expect(pending.due(now: self.start.addingTimeInterval(1.0)) == ([], ["m7"], []))
        #expect(pending.due(now: self.start.addingTimeInterval(1.5)) == ([], [], []), "once per interval")
        #expect(pending.due(now: self.start.addingTimeInterval(2.0)) == ([], ["m7"], []))
        // A refused join is a sign of life: the deadline counts from it.
        pending.heardFrom("m7", now: self.start.addingTimeInterval(5))
        #expect(pending.due(now: self.start.addingTimeInterval(PendingRejoins.deadline + 1)).failed == [])
        #expect(pending.due(now: self.start.addingTimeInterval(PendingRejoins.deadline + 5)) == (["m7"], [], []))
        #expect(!pending.isExpected("m7"))
    }

    @Test func anEvictedMirrorIsEvictedAgainAndForgottenAtTheDeadline() {
        var pending = PendingRejoins()
        pending.expect("m2", reason: .evicted, formerParent: nil, now: self.start)
        #expect(pending.due(now: self.start.addingTimeInterval(1)) == ([], [], ["m2"]))
        #expect(pending.due(now: self.start.addingTimeInterval(PendingRejoins.deadline)) == ([], [], []), "forgotten, not failed")
        #expect(!pending.isExpected("m2"))
    }

    @Test func aJoinerBackSoonFromAnExpectedMirrorCouldNotReachIt() {
        var pending = PendingRejoins()
        pending.expect("m9", reason: .moved, formerParent: "m4", now: self.start)
        pending.sent("m20", to: "m9", now: self.start)
        pending.sent("m21", to: "m1", now: self.start)  // not expected: not remembered
        #expect(pending.cameBack("m21", now: self.start.addingTimeInterval(0.1)) == nil)
        // Back at once: m9 may be alive and rejoining (it refused m20 as its ancestor): not yet.
        #expect(pending.cameBack("m20", now: self.start.addingTimeInterval(0.1)) == nil, "m9 silent for only 0.1 s")
        // Sent again, back again once m9 has been silent for a second: it could not be reached.
        pending.sent("m20", to: "m9", now: self.start.addingTimeInterval(0.9))
        #expect(pending.cameBack("m20", now: self.start.addingTimeInterval(1.1)) == "m9")
        #expect(pending.cameBack("m20", now: self.start.addingTimeInterval(1.2)) == nil, "counted once")
        pending.sent("m22", to: "m9", now: self.start)
        #expect(pending.cameBack("m22", now: self.start.addingTimeInterval(PendingRejoins.unreachableWindow + 0.1)) == nil, "too late to tell")
        pending.sent("m23", to: "m9", now: self.start.addingTimeInterval(1))
        pending.forget("m9")
        #expect(pending.cameBack("m23", now: self.start.addingTimeInterval(1.5)) == nil, "m9 rejoined meanwhile")
    }

    // MARK: The repair at the root

    static let fleet = FleetFile.test(mirrors: 1...7)

    /// A root with m1 … m7 placed (m1, m2 under the root; m3, m4 under m1; m5, m6 under m2; m7
    /// under m3).
    func fullRoot() -> JoinPolicy {
        var root = JoinPolicy(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.admit(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret"), now: self.start) }
        return root
    }

    @Test func aMovedMirrorThatDiesWithItsFormerParentIsDeclaredFailedAtTheDeadline() {
        var root = self.fullRoot()
        // m3 and m7 (its child, the last) die together. m3's parent m1 reports m3: m7 is moved into
        // m3's place and told to relocate, but it is dead, and nobody holds its link to report it.
        #expect(root.childLost("m3", reporter: "m1", now: self.start) == [.evict(node: "m3"), .relocate(node: "m7")])
        #expect(root.tree?["m7"] == "m1")
        #expect(root.expectedRejoins == 2, "m3 evicted, m7 moved")
        #expect(root.repair(now: self.start.addingTimeInterval(1)) == [.evict(node: "m3"), .relocate(node: "m7")])
        let changes = root.repair(now: self.start.addingTimeInterval(PendingRejoins.deadline))
        #expect(changes.contains(.evict(node: "m7")))
        #expect(root.tree?["m7"] == nil)
        #expect(root.tree?.count == 5)
    }

    @Test func aLossReportFromTheFormerParentOfAMovedMirrorIsBelieved() {
        var root = self.fullRoot()
        // m5 (under m2) fails: m7, the last, moves from m3 into m5's place.
        #expect(root.childLost("m5", reporter: "m2", now: self.start) == [.evict(node: "m5"), .relocate(node: "m7")])
        // m7 died before it could move: m3, which still holds its link, reports it.
        #expect(root.childLost("m7", reporter: "m3", now: self.start.addingTimeInterval(1.5)) == [.evict(node: "m7"), .relocate(node: "m6")])
        #expect(root.tree?["m6"] == "m2")
        // Any other reporter is not believed.
        #expect(root.childLost("m6", reporter: "m4", now: self.start.addingTimeInterval(2)) == [])
    }

    @Test func aJoinerThatComesBackFromAnUnreachableMovedMirrorGetsItDeclaredFailed() {
        var root = self.fullRoot()
        // m2 fails (m5 reports it lost): m7 moves into m2's place; m5 and m6 are its children now.
        let (decision, changes) = root.admit(JoinRequest(name: "m5", from: nil, stream: nil, lost: "m2", secret: "s3cret"), now: self.start)
        #expect(changes == [.evict(node: "m2"), .relocate(node: "m7")])
        #expect(decision == .redirect(to: "m7"))
        // m7 is dead: m5 cannot connect and asks again 100 ms later: too soon to tell (a live m7
        // could be rejoining); sent to m7 again, it comes back once m7 has been silent for a second.
        #expect(root.admit(JoinRequest(name: "m5", from: nil, stream: nil, secret: "s3cret"), now: self.start.addingTimeInterval(0.1)) == (.redirect(to: "m7"), []))
        _ = root.admit(JoinRequest(name: "m5", from: nil, stream: nil, secret: "s3cret"), now: self.start.addingTimeInterval(0.9))
        let (again, repair) = root.admit(JoinRequest(name: "m5", from: nil, stream: nil, secret: "s3cret"), now: self.start.addingTimeInterval(1.1))
        // The last mirror, m6, is m2's other orphan, still rejoining: it has no stream to give m5.
        // m4, the last leaf that streams, fills m7's place (m2's), and m6 takes m4's.
        #expect(repair == [.evict(node: "m7"), .relocate(node: "m4"), .relocate(node: "m6")])
        #expect(again == .redirect(to: "m4"))
        #expect(root.tree == ["m1": "root", "m3": "m1", "m6": "m1", "m4": "root", "m5": "m4"])
    }
}
