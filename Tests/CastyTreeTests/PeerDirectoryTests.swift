import CastyPeerProtocol
import CastyTree
import Foundation
import Testing
import CastyTreeTestSupport

/// The directory (the policy behind a lock, the fleet's addresses). The policy itself is tested in
/// `JoinPolicyTests`, the HTTP answers to its decisions in `NodeRouteTests` (CastyServerTests).
@Suite struct PeerDirectoryTests {
    static let fleet = FleetFile.test(mirrors: 1...7)

    @Test func aRedirectSendsTheSameJoinToTheParentsAddress() throws {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let requests = (1...3).map { JoinRequest(name: "m\($0)", from: nil, stream: nil, secret: "s3cret") }
        let decisions = requests.map { root.decide($0).0 }
        #expect(decisions[2] == .redirect(to: "m1"))
        let url = try #require(root.redirectURL(for: requests[2], to: "m1"))
        #expect(url == "http://127.0.0.1:9001" + requests[2].target)
        #expect(root.redirectURL(for: requests[2], to: "nowhere") == nil)
        #expect(root.tree?.count == 3)
        #expect(root.place.children == ["m1", "m2"])
    }

    @Test func anElectedIngestTakesNoJoinUntilItsPolicyIsTheRoot() {
        var fleet = Self.fleet
        fleet.standby = .init(name: "root2", host: "127.0.0.1", port: 9100)
        // The standby follows the root, whose link then fails: the election makes it root when
        // the grace is over; the service that carries the election's actions out makes the
        // policy the root a moment later.
        let election = RootElection(role: IngestRole(name: "root2", primary: "root", standby: "root2"))
        let directory = PeerDirectory(name: "root2", fleet: fleet, election: election)
        let start = ContinuousClock.now
        let claim = TermRule.Claim(term: 1, root: "root")
        election.update { $0.probed(.root(claim), now: start) }
        election.update { $0.linkAccepted(claim, nextSeq: 5, now: start) }
        // As a follower it had a place (depth 1, an observer of the root).
        directory.joined(parent: "root", depth: 1, path: ["root"])
        election.update {
            $0.linkDown(now: start)
            return .none
        }
        election.update { $0.tick(now: start + .seconds(5)) }
        #expect(election.read(\.isRoot))
        // Admitted now, the joiner would get depth 2, outside the tree the new root is about to take.
        let early = directory.decide(JoinRequest(name: "m1", from: nil, stream: nil, term: 2, secret: "s3cret"))
        #expect(early.0 == .refuse(.notInTree))
        directory.becomeRoot()
        let decided = directory.decide(JoinRequest(name: "m1", from: nil, stream: nil, term: 2, secret: "s3cret"))
        guard case .accept(let depth, let path) = decided.0 else {
            Issue.record("expected the join accepted, got \(decided.0)")
            return
        }
        #expect(depth == 1 && path == ["root2"])
        #expect(directory.tree == ["m1": "root2"])
        // A late acceptance from the link the new root ended does not move it.
        directory.joined(parent: "root", depth: 1, path: ["root"])
        #expect(directory.place.depth == 0 && directory.place.parent == nil)
    }
}
