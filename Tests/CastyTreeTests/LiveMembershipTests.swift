import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// Live membership as pure values: what a reloaded fleet file changes (``FleetChange``), the
/// secrets accepted during a rotation (``FleetSecrets``), and how the coordinator and the join
/// policy take added and removed mirrors.
@Suite struct LiveMembershipTests {
    static func fleet(_ mirrors: ClosedRange<Int>, secret: String = "s3cret", drain: Int? = nil, grace: Int? = nil) -> FleetFile {
        .test(mirrors: mirrors, secret: secret, drainSeconds: drain, secretGraceSeconds: grace)
    }

    static func join(_ name: String, secret: String = "s3cret", now: Date = Date()) -> JoinRequest {
        JoinRequest(name: name, from: nil, stream: nil, secret: secret, now: now)
    }

    // MARK: FleetChange

    @Test func aChangeListsAddedAndRemovedMirrorsAndARotatedSecret() throws {
        let old = Self.fleet(1...4)
        var new = Self.fleet(2...6, secret: "n3w")
        new.mirrors.swapAt(0, 1)
        let change = try FleetChange.between(old, new)
        #expect(change.added.map(\.name) == ["m5", "m6"])
        #expect(change.removed.map(\.name) == ["m1"])
        #expect(change.retiredSecret == "s3cret")
        #expect(!change.isEmpty)
        #expect(try FleetChange.between(old, old).isEmpty)
        #expect(try FleetChange.between(old, Self.fleet(1...4, drain: 5)).isEmpty, "a new drain time alone changes no member")
    }

    @Test func aChangeThatNeedsARestartIsRefusedWithItsReason() {
        let old = Self.fleet(1...3)
        func refusal(_ edit: (inout FleetFile) -> Void) -> String? {
            var new = old
            edit(&new)
            do throws(FleetFileError) {
                _ = try FleetChange.between(old, new)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(refusal { $0.ingest.name = "root2" }?.contains("the ingest changed") == true)
        #expect(refusal { $0.ingest.port = 9100 }?.contains("needs a restart") == true)
        #expect(refusal { $0.upstream = "http://127.0.0.1:2/" }?.contains("\"upstream\" changed") == true)
        #expect(refusal { $0.fanout = 3 }?.contains("\"fanout\" changed from 2 to 3") == true)
        #expect(refusal { $0.mirrors[1].port = 9500 }?.contains("mirror 'm2' moved") == true)
        #expect(refusal { $0.mirrors.append(.init(name: "m9", host: "127.0.0.1", port: 9009)) } == nil)
    }

    @Test func optionalDrainAndGraceTimesAreReadCheckedAndDefaulted() throws {
        let json = """
            {"upstream": "http://127.0.0.1:1/", "secret": "s", "fanout": 2, "drainSeconds": 7, "secretGraceSeconds": 60,
             "ingest": {"name": "root", "host": "127.0.0.1", "port": 9000}, "mirrors": []}
            """
        let fleet = try FleetFile.parse(Data(json.utf8))
        #expect(fleet.drainTime == 7 && fleet.secretGraceTime == 60)
        #expect(Self.fleet(1...1).drainTime == FleetFile.defaultDrainSeconds)
        #expect(Self.fleet(1...1).secretGraceTime == FleetFile.defaultSecretGraceSeconds)
        #expect(throws: FleetFileError.self) { try FleetFile.parse(Data(json.replacingOccurrences(of: "\"drainSeconds\": 7", with: "\"drainSeconds\": -1").utf8)) }
    }

    // MARK: FleetSecrets

    @Test func aRotatedSecretIsAcceptedBesideTheNewOneUntilItsGraceEnds() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var secrets = FleetSecrets(current: "a")
        secrets.rotate(to: "b", now: t0, grace: 60)
        #expect(secrets.current == "b")
        #expect(secrets.accepted(at: t0.addingTimeInterval(59)) == ["b", "a"])
        #expect(secrets.accepted(at: t0.addingTimeInterval(60)) == ["b"])
        // A second rotation within the grace keeps both old ones, each until its own end.
        secrets.rotate(to: "c", now: t0.addingTimeInterval(30), grace: 60)
        #expect(secrets.accepted(at: t0.addingTimeInterval(45)) == ["c", "a", "b"])
        #expect(secrets.accepted(at: t0.addingTimeInterval(75)) == ["c", "b"])
        // Back to an old secret: it is current, not listed twice.
        secrets.rotate(to: "a", now: t0.addingTimeInterval(40), grace: 0)
        #expect(secrets.accepted(at: t0.addingTimeInterval(41)) == ["a", "b"])
    }

    @Test func thePolicyAcceptsTheOldSecretDuringTheGraceAndSignsWithTheNew() {
        let t0 = Date()
        var root = JoinPolicy(name: "root", fleet: Self.fleet(1...3))
        let rotated = Self.fleet(1...3, secret: "n3w", grace: 60)
        _ = root.apply(FleetChange(retiredSecret: "s3cret"), fleet: rotated, now: t0)
        #expect(root.signingSecret == "n3w")
        #expect(root.decide(Self.join("m1", secret: "s3cret", now: t0), now: t0).0 == .accept(depth: 1, path: ["root"]))
        #expect(root.decide(Self.join("m2", secret: "n3w", now: t0), now: t0).0 == .accept(depth: 1, path: ["root"]))
        #expect(root.decide(Self.join("m3", secret: "other", now: t0), now: t0).0 == .refuse(.badProof))
        let later = t0.addingTimeInterval(61)
        #expect(root.decide(Self.join("m3", secret: "s3cret", now: later), now: later).0 == .refuse(.badProof), "the grace is over")
        #expect(root.decide(Self.join("m3", secret: "n3w", now: later), now: later).0 == .redirect(to: "m1"))
    }

    // MARK: The coordinator

    @Test func theCoordinatorAllowsAddedMirrorsAndFreesARemovedOnesPlace() {
        var tree = TreeCoordinator(root: "root", fanout: 2, members: ["a", "b", "c", "d"])
        for name in ["a", "b", "c", "d"] { _ = tree.join(name) }
        #expect(tree.join("e") == .refuse(reason: "'e' is not a mirror of this fleet"))
        tree.allow(["e", "root"])
        #expect(!tree.allowed.contains("root"))
        #expect(tree.join("e") == .redirect(to: "b"))
        // a has the children c and d; removing it moves the last node (e) into its place.
        let moves = tree.remove("a")
        #expect(moves == [.init(node: "e", newParent: "root"), .init(node: "c", newParent: "e"), .init(node: "d", newParent: "e")])
        #expect(tree.join("a") == .refuse(reason: "'a' is not a mirror of this fleet"))
        #expect(tree.maxDepth == TreeCoordinator.minimumDepth(mirrors: 4, fanout: 2))
        #expect(tree.remove("zz") == [] && tree.remove("root") == [])
    }

    // MARK: The join policy

    @Test func theRootAnnouncesADrainAndTheMovesOfARemovedInnerMirror() {
        var root = JoinPolicy(name: "root", fleet: Self.fleet(1...5))
        for index in 1...5 { _ = root.decide(Self.join("m\(index)"), now: Date()) }
        // m1 holds m3 and m4; m5 is last.
        let new = Self.fleet(2...6)
        let change = FleetChange(added: [new.mirrors.last!], removed: [Self.fleet(1...1).mirrors[0]])
        let announced = root.apply(change, fleet: new, now: Date())
        #expect(announced == [.drain(node: "m1"), .relocate(node: "m5"), .relocate(node: "m3"), .relocate(node: "m4")])
        #expect(root.tree?["m5"] == "root" && root.tree?["m3"] == "m5" && root.tree?["m1"] == nil)
        #expect(root.children == ["m2"], "the removed child's slot is free")
        #expect(root.decide(Self.join("m1"), now: Date()).0 == .refuse(.notAMirror("m1")))
        #expect(root.decide(Self.join("m6"), now: Date()).0 == .redirect(to: "m2"), "an added mirror joins")
        #expect(!root.draining)
    }

    @Test func aMirrorFreesADrainedChildsSlotAndDrainsWhenItIsTheOneRemoved() {
        var parent = JoinPolicy(name: "m1", fleet: Self.fleet(1...7))
        parent.joined(parent: "root", depth: 1, path: ["root"])
        _ = parent.decide(Self.join("m3"), now: Date())
        _ = parent.decide(Self.join("m4"), now: Date())
        #expect(parent.decide(Self.join("m8x"), now: Date()).0 == .refuse(.notAMirror("m8x")))
        #expect(parent.treeChanged(.drain(node: "m3")) == false, "another node drains")
        #expect(parent.children == ["m4"])
        #expect(parent.decide(Self.join("m5"), now: Date()).0 == .accept(depth: 2, path: ["root", "m1"]), "the freed slot takes a new child")
        #expect(parent.decide(Self.join("m3"), now: Date()).0 == .refuse(.notAMirror("m3")))
        #expect(parent.treeChanged(.relocate(node: "m4")) == false)

        #expect(parent.treeChanged(.drain(node: "m1")) == true)
        #expect(parent.draining)
        #expect(parent.treeChanged(.drain(node: "m1")) == false, "it starts once")
        #expect(parent.decide(Self.join("m6"), now: Date()).0 == .refuse(.draining))
        #expect(JoinPolicy.Refusal.draining.reason(node: "m1").contains("removed from the fleet"))

        // The same from its own reloaded file.
        var removed = JoinPolicy(name: "m2", fleet: Self.fleet(1...3))
        let new = Self.fleet(1...1)
        _ = removed.apply(try! FleetChange.between(Self.fleet(1...3), new), fleet: new, now: Date())
        #expect(removed.draining)
    }
}
