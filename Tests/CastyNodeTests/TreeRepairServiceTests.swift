import CastyTree
import CastyNode
import CastyPeerProtocol
import Foundation
import Testing
import CastyTreeTestSupport

@testable import CastyNode

/// The tree's repair runs on every ingest and acts whenever the ingest is the root: a standby
/// that took over repairs its tree as the primary did.
@Suite struct TreeRepairServiceTests {
    static let fleet = FleetFile.test(mirrors: 1...3, port: 8000, standby: true)

    @Test(.timeLimit(.minutes(1))) func aStandbyThatTookOverRepairsItsTree() async throws {
        let election = RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2"))
        let directory = PeerDirectory(name: "root2", fleet: Self.fleet, election: election)
        let (announced, announce) = AsyncStream.makeStream(of: TreeChange.self)
        let service = TreeRepairService(directory: directory, interval: .milliseconds(10), logger: quiet) { announce.yield($0) }
        #expect(service.repair().isEmpty, "a follower has no tree to repair")

        try await whileRunning(service) {
            // The standby takes over the old root's tree; m1 fails, m3 is moved into its place.
            directory.becomeRoot(adopting: ["m1": "root", "m2": "root", "m3": "m1"], from: "root")
            let failed = Date()
            #expect(directory.childLost("m1", reporter: "root2", now: failed) == [.evict(node: "m1"), .relocate(node: "m3")])
            // m3 does not come: the running repair tells it again (a second later), and repeats
            // m1's eviction. Waited for as events: the suite's simulations may hold both cores.
            var seen: Set<String> = []
            for await change in announced {
                seen.insert("\(change)")
                if seen.isSuperset(of: ["\(TreeChange.relocate(node: "m3"))", "\(TreeChange.evict(node: "m1"))"]) { break }
            }
            // m2, a child of the old root that has not rejoined either, is told too.
            let expected = ["relocate(node: \"m3\")", "evict(node: \"m1\")", "relocate(node: \"m2\")"]
            #expect(seen.isSubset(of: expected), "\(seen)")
        }
        // Silent past the deadline, m2 and m3 are declared failed and leave the tree.
        let changes = service.repair(now: Date().addingTimeInterval(PendingRejoins.deadline + 1))
        #expect(changes.contains(.evict(node: "m3")) && changes.contains(.evict(node: "m2")), "\(changes)")
        #expect(directory.tree == [:])
    }

    @Test func anIngestThatStepsDownStopsRepairing() {
        let election = RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2"))
        let directory = PeerDirectory(name: "root2", fleet: Self.fleet, election: election)
        let service = TreeRepairService(directory: directory, logger: quiet) { _ in }
        directory.becomeRoot(adopting: ["m1": "root2", "m2": "root2"], from: "root2")
        _ = directory.childLost("m1", reporter: "root2", now: Date())
        #expect(!service.repair(now: Date().addingTimeInterval(2)).isEmpty, "the root repairs")
        directory.stepDown()
        #expect(service.repair(now: Date().addingTimeInterval(3)).isEmpty, "a follower does not")
    }
}
