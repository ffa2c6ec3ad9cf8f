import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// The root compares what every mirror says its parent is with its tree, and tells a mirror that
/// stays elsewhere than the tree says to rejoin, with no clock but the one passed in.
@Suite struct MisplacedMirrorsTests {
    let start = Date(timeIntervalSince1970: 1_000_000)
    let tree = ["m1": "root", "m2": "root", "m3": "m1", "m4": "m1", "m5": "m2"]

    @Test func aMirrorThatStaysElsewhereIsToldAfterThreeSecondsThenEveryThree() {
        var misplaced = MisplacedMirrors()
        let says = ["m1": "root", "m2": "root", "m3": "m1", "m4": "m1", "m5": "m4"]
        let settled: (String) -> Bool = { _ in true }
        #expect(misplaced.due(says: says, tree: self.tree, now: self.start, settled: settled) == [])
        #expect(misplaced.due(says: says, tree: self.tree, now: self.start.addingTimeInterval(2.9), settled: settled) == [])
        #expect(misplaced.due(says: says, tree: self.tree, now: self.start.addingTimeInterval(3), settled: settled) == ["m5"])
        #expect(misplaced.due(says: says, tree: self.tree, now: self.start.addingTimeInterval(4), settled: settled) == [], "not again at once")
        #expect(misplaced.due(says: says, tree: self.tree, now: self.start.addingTimeInterval(6), settled: settled) == ["m5"])
    }

    @Test func aMirrorThatArrivesOrIsExpectedOrSaysNothingIsLeftAlone() {
        var misplaced = MisplacedMirrors()
        let wrong = ["m5": "m4"]
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start, settled: { _ in true }) == [])
        // It arrives where the tree says 2 s later: the count starts again from the next miss.
        #expect(misplaced.due(says: ["m5": "m2"], tree: self.tree, now: self.start.addingTimeInterval(2), settled: { _ in true }) == [])
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(2.5), settled: { _ in true }) == [])
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(4), settled: { _ in true }) == [], "1.5 s since the miss")
        // A mirror the root expects to rejoin (moved, orphaned) is the repair's: not counted.
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(6), settled: { $0 != "m5" }) == [])
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(7), settled: { _ in true }) == [])
        // One that says nothing (no fresh status, or between two parents) is not counted either.
        #expect(misplaced.due(says: [:], tree: self.tree, now: self.start.addingTimeInterval(8), settled: { _ in true }) == [])
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(10), settled: { _ in true }) == [])
        #expect(misplaced.due(says: wrong, tree: self.tree, now: self.start.addingTimeInterval(13), settled: { _ in true }) == ["m5"])
        // A mirror not in the tree is not the root's to place.
        #expect(misplaced.due(says: ["m9": "m1"], tree: self.tree, now: self.start.addingTimeInterval(20), settled: { _ in true }) == [])
        #expect(misplaced.due(says: ["m9": "m1"], tree: self.tree, now: self.start.addingTimeInterval(30), settled: { _ in true }) == [])
    }

    /// The case seen after a mass failure under the standby root: the root sent m7 to m3, whose own
    /// view was full, so m3 sent it on to its child m6; m7 streams there, and says so.
    @Test func theRootTellsAMirrorThatLandedBelowItsPlaceToRejoin() {
        var root = JoinPolicy(name: "root", fleet: FleetFile.test(mirrors: 1...7))
        for index in 1...7 { _ = root.admit(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret"), now: self.start) }
        #expect(root.tree?["m7"] == "m3")
        var says = root.tree ?? [:]
        says["m7"] = "m6"
        #expect(root.placesSaid(says, now: self.start) == [])
        #expect(root.placesSaid(says, now: self.start.addingTimeInterval(MisplacedMirrors.misplacedAfter)) == [.relocate(node: "m7")])
        // Told, it rejoins through the root, which sends it to its place in the tree again.
        #expect(root.admit(JoinRequest(name: "m7", from: nil, stream: nil, secret: "s3cret"), now: self.start.addingTimeInterval(3.1)).0 == .redirect(to: "m3"))
        says["m7"] = "m3"
        #expect(root.placesSaid(says, now: self.start.addingTimeInterval(9)) == [])
        // A mirror answers nothing of the sort: it is not the root.
        var mirror = JoinPolicy(name: "m1", fleet: FleetFile.test(mirrors: 1...7))
        #expect(mirror.placesSaid(["m7": "m6"], now: self.start) == [])
        #expect(mirror.placesSaid(["m7": "m6"], now: self.start.addingTimeInterval(10)) == [])
    }
}
