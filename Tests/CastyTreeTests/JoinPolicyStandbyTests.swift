import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// A join policy whose ingest becomes root, or stops being it, at run time (a standby root).
@Suite struct JoinPolicyStandbyTests {
    static let fleet = FleetFile.test(mirrors: 1...3, standby: true)

    static func join(_ name: String, observer: Bool = false) -> JoinRequest {
        JoinRequest(name: name, from: nil, stream: nil, observer: observer, term: 1, secret: "s3cret")
    }

    @Test func aStandbyTakesJoinsOnlyOnceItIsRoot() {
        var standby = JoinPolicy(name: "root2", fleet: Self.fleet)
        #expect(!standby.isRoot)
        #expect(standby.decide(Self.join("m1"), now: Date()).0 == .refuse(.notInTree))
        standby.becomeRoot()
        #expect(standby.isRoot && standby.depth == 0 && standby.parent == nil && standby.path.isEmpty)
        #expect(standby.decide(Self.join("m1"), now: Date()).0 == .accept(depth: 1, path: ["root2"]))
        #expect(standby.decide(Self.join("m2"), now: Date()).0 == .accept(depth: 1, path: ["root2"]))
        #expect(standby.decide(Self.join("m3"), now: Date()).0 == .redirect(to: "m1"))
        #expect(standby.tree == ["m1": "root2", "m2": "root2", "m3": "m1"])
        // The old primary follows it as an observer; it is no mirror.
        #expect(standby.decide(Self.join("root", observer: true), now: Date()).0 == .accept(depth: 1, path: ["root2"]))
        #expect(standby.decide(Self.join("root"), now: Date()).0 == .refuse(.notAMirror("root")))
    }

    @Test func aStaleRootThatStepsDownForgetsItsTree() {
        var primary = JoinPolicy(name: "root", fleet: Self.fleet)
        _ = primary.decide(Self.join("m1"), now: Date())
        #expect(primary.children == ["m1"])
        primary.stepDown()
        #expect(!primary.isRoot && primary.tree == nil && primary.children.isEmpty && primary.depth == nil)
        #expect(primary.decide(Self.join("m2"), now: Date()).0 == .refuse(.notInTree))
        #expect(primary.childLost("m1", reporter: "root", now: Date()).isEmpty)
        // And takes over again later with a fresh tree.
        primary.becomeRoot()
        #expect(primary.decide(Self.join("m2"), now: Date()).0 == .accept(depth: 1, path: ["root"]))
        #expect(primary.tree == ["m2": "root"])
    }

    static let bigFleet = FleetFile.test(mirrors: 1...12, standby: true)

    @Test(arguments: [1, 2, 5, 7, 12])
    func theNewRootAdoptsTheOldRootsTreeAsItWas(mirrors: Int) throws {
        var primary = JoinPolicy(name: "root", fleet: Self.bigFleet)
        var names = (1...mirrors).map { "m\($0)" }
        var generator = SystemRandomNumberGenerator()
        names.shuffle(using: &generator)
        for name in names { _ = primary.decide(Self.join(name), now: Date()) }
        let tree = try #require(primary.tree)
        var standby = JoinPolicy(name: "root2", fleet: Self.bigFleet)
        standby.becomeRoot(adopting: tree, from: "root")
        let expected = tree.mapValues { $0 == "root" ? "root2" : $0 }
        #expect(standby.tree == expected)
        // The old root's children rejoin and get their places back, at depth 1.
        for child in tree.filter({ $0.value == "root" }).keys.sorted() {
            #expect(standby.decide(Self.join(child), now: Date()).0 == .accept(depth: 1, path: ["root2"]))
        }
        #expect(standby.tree == expected)
    }

    @Test func aTreeCaughtMidChangeIsAdoptedAsFarAsItHolds() {
        var standby = JoinPolicy(name: "root2", fleet: Self.bigFleet)
        // m2 hangs under m1 while the root has a free slot: not a complete tree.
        standby.becomeRoot(adopting: ["m1": "root", "m2": "m1", "m3": "m2"], from: "root")
        #expect(standby.tree == ["m1": "root2"])
        #expect(standby.decide(Self.join("m2"), now: Date()).0 == .accept(depth: 1, path: ["root2"]))
        // Nodes of the fleet file only; the old root's name is not a member.
        var other = JoinPolicy(name: "root2", fleet: Self.bigFleet)
        other.becomeRoot(adopting: ["x9": "root", "m1": "root"], from: "root")
        #expect(other.tree == ["m1": "root2"])
    }

    /// The old root's children must rejoin the new root; one that never does (it died with the
    /// old root) is told again, then declared failed at the repair's deadline, so that its place
    /// is filled and its children move.
    @Test func anAdoptedChildOfTheOldRootThatNeverRejoinsIsDeclaredFailed() {
        var standby = JoinPolicy(name: "root2", fleet: Self.fleet)
        let start = Date()
        standby.becomeRoot(adopting: ["m1": "root", "m2": "root", "m3": "m1"], from: "root", now: start)
        #expect(standby.expectedRejoins == 2, "m1 and m2, not m3 (its parent m1 keeps it)")
        // m2 rejoins; m1 does not.
        #expect(standby.decide(Self.join("m2"), now: start.addingTimeInterval(0.5)).0 == .accept(depth: 1, path: ["root2"]))
        #expect(standby.repair(now: start.addingTimeInterval(1.1)) == [.relocate(node: "m1")])
        let failed = standby.repair(now: start.addingTimeInterval(PendingRejoins.deadline + 0.1))
        #expect(failed == [.evict(node: "m1"), .relocate(node: "m3")], "m3, the last, fills m1's place")
        #expect(standby.tree == ["m2": "root2", "m3": "root2"])
    }
}
