import CastyNode
import CastyPeerProtocol
import CastyTree
import Foundation
import NIOConcurrencyHelpers
import Testing
import CastyTreeTestSupport

@testable import CastyNode

/// The tree's repair runs on every node of a fleet: at the root it repairs the tree (a standby
/// that took over as the primary did), at a mirror it reports lost children to the root.
@Suite struct TreeRepairServiceTests {
    static let fleet = FleetFile.test(mirrors: 1...3, port: 8000, standby: true)

    /// The changes a service announces, in order.
    final class Announced: Sendable {
        let changes = NIOLockedValueBox<[TreeChange]>([])
        func take() -> [TreeChange] { self.changes.withLockedValue { changes in defer { changes = [] }; return changes } }
    }

    static func standby() -> PeerDirectory {
        PeerDirectory(name: "root2", fleet: Self.fleet, election: RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2")))
    }

    @Test(.timeLimit(.minutes(1))) func aStandbyThatTookOverRepairsItsTree() async throws {
        let directory = Self.standby()
        let (stream, continuation) = AsyncStream.makeStream(of: TreeChange.self)
        let service = TreeRepairService(directory: directory, interval: .milliseconds(10), logger: quiet) { continuation.yield($0) }
        service.repair()
        continuation.finish()
        #expect(await Array(stream).isEmpty, "a follower has no tree to repair")

        let (announced, announce) = AsyncStream.makeStream(of: TreeChange.self)
        let running = TreeRepairService(directory: directory, interval: .milliseconds(10), logger: quiet) { announce.yield($0) }
        try await whileRunning(running) {
            // The standby takes over the old root's tree; m1 fails, m3 is moved into its place.
            directory.becomeRoot(adopting: ["m1": "root", "m2": "root", "m3": "m1"], from: "root")
            #expect(directory.childLost("m1", reporter: "root2", now: Date()) == [.evict(node: "m1"), .relocate(node: "m3")])
            // m3 does not come: the running repair tells it again (a second later), and repeats
            // m1's eviction. Waited for as events: the suite's simulations may hold both cores.
            var seen: Set<String> = []
            for await change in announced {
                seen.insert("\(change)")
                if seen.isSuperset(of: ["relocate(node: \"m3\")", "evict(node: \"m1\")"]) { break }
            }
            // m2, a child of the old root that has not rejoined either, is told too.
            #expect(seen.isSubset(of: ["relocate(node: \"m3\")", "evict(node: \"m1\")", "relocate(node: \"m2\")"]), "\(seen)")
        }
        // Silent past the deadline, m2 and m3 are declared failed and leave the tree.
        let later = Announced()
        TreeRepairService(directory: directory, logger: quiet) { change in later.changes.withLockedValue { $0.append(change) } }
            .repair(now: Date().addingTimeInterval(PendingRejoins.deadline + 1))
        let changes = later.take()
        #expect(changes.contains(.evict(node: "m3")) && changes.contains(.evict(node: "m2")), "\(changes)")
        #expect(directory.tree == [:])
    }

    @Test func anIngestThatStepsDownStopsRepairing() {
        let directory = Self.standby()
        let announced = Announced()
        let service = TreeRepairService(directory: directory, logger: quiet) { change in announced.changes.withLockedValue { $0.append(change) } }
        directory.becomeRoot(adopting: ["m1": "root2", "m2": "root2"], from: "root2")
        _ = directory.childLost("m1", reporter: "root2", now: Date())
        service.repair(now: Date().addingTimeInterval(2))
        #expect(!announced.take().isEmpty, "the root repairs")
        directory.stepDown()
        service.repair(now: Date().addingTimeInterval(3))
        #expect(announced.take().isEmpty, "a follower does not")
    }

    /// The root's own child whose link died and that does not come back within the grace is
    /// declared failed by the repair; one that comes back is not.
    @Test func theRootDeclaresItsOwnLostChildFailedAfterTheGrace() {
        var fleet = Self.fleet
        fleet.standby = nil
        let root = PeerDirectory(name: "root", fleet: fleet)
        let announced = Announced()
        let service = TreeRepairService(directory: root, logger: quiet) { change in announced.changes.withLockedValue { $0.append(change) } }
        let start = Date()
        for name in ["m1", "m2"] {
            _ = root.decide(JoinRequest(name: name, from: nil, stream: nil, secret: "s3cret"), now: start)
        }
        root.childLinkDied("m1", now: start)
        root.childLinkDied("m2", now: start)
        _ = root.decide(JoinRequest(name: "m2", from: nil, stream: nil, secret: "s3cret"), now: start.addingTimeInterval(0.5))
        service.repair(now: start.addingTimeInterval(1))
        #expect(announced.take().isEmpty, "within the grace")
        service.repair(now: start.addingTimeInterval(JoinPolicy.childLossGrace))
        #expect(announced.take() == [.evict(node: "m1"), .relocate(node: "m2")], "m1 did not come back (m2, which did, fills its place)")
        #expect(root.tree == ["m2": "root"])
    }

    /// A mirror reports a lost child to the root, once, unless it drains (its children then
    /// leave on purpose).
    @Test(.timeLimit(.minutes(1))) func aMirrorReportsALostChildOnceAndNoneWhileDraining() async throws {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "root", depth: 1, path: ["root"])
        let (reported, report) = AsyncStream.makeStream(of: String.self)
        let service = TreeRepairService(directory: mirror, interval: .milliseconds(10), logger: quiet, announce: { _ in }) { report.yield($0) }
        #expect(mirror.decide(JoinRequest(name: "m3", from: nil, stream: nil, secret: "s3cret")).0 == .accept(depth: 2, path: ["root", "m1"]))
        mirror.childLinkDied("m3", now: Date().addingTimeInterval(-JoinPolicy.childLossGrace))
        try await whileRunning(service) {
            var iterator = reported.makeAsyncIterator()
            #expect(await iterator.next() == "m3")
        }
        #expect(service.repair().isEmpty, "named once")
        // Draining: a child whose link dies is not lost.
        #expect(mirror.decide(JoinRequest(name: "m2", from: nil, stream: nil, secret: "s3cret")).0 == .accept(depth: 2, path: ["root", "m1"]))
        #expect(mirror.treeChanged(.drain(node: "m1")))
        mirror.childLinkDied("m2", now: Date().addingTimeInterval(-10))
        #expect(service.repair().isEmpty)
    }
}
