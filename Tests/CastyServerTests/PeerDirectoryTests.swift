import CastyCore
import CastyPeerProtocol
import CastyServer
import Foundation
import Testing

@Suite struct PeerDirectoryTests {
    static let fleet = FleetFile(
        upstream: "http://127.0.0.1:1/",
        secret: "s3cret",
        ingest: .init(name: "root", host: "127.0.0.1", port: 9000),
        mirrors: (1...7).map { .init(name: "m\($0)", host: "127.0.0.1", port: 9000 + $0) }
    )

    @Test func rootPlacesMirrorsByRedirectingToTheirParent() {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let decisions = (1...7).map { root.decide(JoinRequest(name: "m\($0)", from: nil, stream: nil, secret: "s3cret")).0 }
        #expect(decisions[0] == .accept(depth: 1, path: ["root"]))
        #expect(decisions[1] == .accept(depth: 1, path: ["root"]))
        guard case .redirect(let url, let to) = decisions[2] else {
            Issue.record("the third mirror must be redirected: \(decisions[2])")
            return
        }
        #expect(to == "m1")
        #expect(url.hasPrefix("http://127.0.0.1:9001/casty/v1/join?"))
        #expect(root.tree?.count == 7)
    }

    @Test func refusesWrongSecretVersionReplayStrangersAndStaleNonces() {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        let wrongSecret = JoinRequest(name: "m1", from: nil, stream: nil, secret: "guess")
        #expect(root.decide(wrongSecret).0 == .refuse(code: 403, reason: "the join's proof does not match this fleet's secret"))

        var otherVersion = JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret")
        otherVersion.version = 3
        guard case .refuse(426, let reason) = root.decide(otherVersion).0 else {
            Issue.record("version 3 must be refused with 426")
            return
        }
        #expect(reason.contains("versions 1 to 2") && reason.contains("not 3"))

        let good = JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret")
        #expect(root.decide(good).0 == .accept(depth: 1, path: ["root"]))
        #expect(root.decide(good).0 == .refuse(code: 403, reason: "this join was already used (replayed nonce)"))

        let stranger = JoinRequest(name: "intruder", from: nil, stream: nil, secret: "s3cret")
        guard case .refuse(403, _) = root.decide(stranger).0 else {
            Issue.record("a name not in the fleet must be refused")
            return
        }
        let stale = JoinRequest(name: "m2", from: nil, stream: nil, secret: "s3cret", now: Date().addingTimeInterval(-3600))
        guard case .refuse(403, _) = root.decide(stale).0 else {
            Issue.record("an hour-old nonce must be refused")
            return
        }
        #expect(root.place.children == ["m1"], "refused joiners take no slot")
    }

    @Test func refusesNoncesLongerThanTheLimitSoRememberedNoncesStayBounded() {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        var long = JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret")
        long.nonce += "-" + String(repeating: "a", count: PeerProtocol.maxNonceBytes)
        long.proof = JoinRequest.proof(secret: "s3cret", name: "m1", nonce: long.nonce)
        #expect(root.decide(long).0 == .refuse(code: 403, reason: "the join's nonce is longer than 64 bytes"))
        var longest = JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret")
        longest.nonce += "-" + String(repeating: "b", count: PeerProtocol.maxNonceBytes - longest.nonce.utf8.count - 1)
        longest.proof = JoinRequest.proof(secret: "s3cret", name: "m1", nonce: longest.nonce)
        #expect(longest.nonce.utf8.count == PeerProtocol.maxNonceBytes)
        #expect(root.decide(longest).0 == .accept(depth: 1, path: ["root"]))
    }

    @Test func aMirrorAlternatesRedirectsWhenFullAndAcceptsObservers() {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        #expect(mirror.decide(JoinRequest(name: "m3", from: nil, stream: nil, secret: "s3cret")).0 == .refuse(code: 503, reason: "node m1 is not in the tree yet; join through the root"))
        mirror.joined(parent: "root", depth: 1, path: ["root"])
        #expect(mirror.decide(JoinRequest(name: "m3", from: nil, stream: nil, secret: "s3cret")).0 == .accept(depth: 2, path: ["root", "m1"]))
        #expect(mirror.decide(JoinRequest(name: "m4", from: nil, stream: nil, secret: "s3cret")).0 == .accept(depth: 2, path: ["root", "m1"]))
        let targets = [5, 6, 7, 2].compactMap { index -> String? in
            if case .redirect(_, let to) = mirror.decide(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret")).0 { return to }
            return nil
        }
        #expect(targets == ["m3", "m4", "m3", "m4"])
        #expect(mirror.decide(JoinRequest(name: "load-1", from: nil, stream: nil, observer: true, secret: "s3cret")).0 == .accept(depth: 2, path: ["root", "m1"]))
        #expect(mirror.place.children == ["m3", "m4"])
    }

    @Test func anAncestorJoiningIsRefusedSoTheTreeNeverHasACycle() {
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        mirror.joined(parent: "m6", depth: 2, path: ["root", "m6"])
        let (decision, _) = mirror.decide(JoinRequest(name: "m6", from: nil, stream: nil, secret: "s3cret"))
        guard case .refuse(409, let reason) = decision else {
            Issue.record("an ancestor must be refused: \(decision)")
            return
        }
        #expect(reason.contains("ancestor"))
        #expect(mirror.place.children.isEmpty)
    }

    @Test func aLostParentReportedByItsChildIsEvictedAndTheTreeStaysComplete() {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.decide(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret")) }
        // m3 sits under m1; it reports m1 failed.
        let (decision, changes) = root.decide(JoinRequest(name: "m3", from: 10, stream: "x", lost: "m1", secret: "s3cret"))
        #expect(changes.first == .evict(node: "m1"))
        #expect(changes == [.evict(node: "m1"), .relocate(node: "m7")], "only the moved mirror is told; the orphans are rejoining")
        guard case .redirect(let url, let to) = decision else {
            Issue.record("m3 must be sent to the mirror that took m1's place: \(decision)")
            return
        }
        #expect(to == "m7")
        #expect(url.hasPrefix("http://127.0.0.1:9007/casty/v1/join?"))
        #expect(root.tree?["m1"] == nil)
        #expect(root.tree?.count == 6)
        // A false report (m5 is not m2's parent) changes nothing.
        let (_, none) = root.decide(JoinRequest(name: "m2", from: nil, stream: nil, lost: "m5", secret: "s3cret"))
        #expect(none.isEmpty)
    }

    @Test func lossReportsFreeADeadLeafOnlyWhenTheReporterIsItsParent() {
        let root = PeerDirectory(name: "root", fleet: Self.fleet)
        for index in 1...7 { _ = root.decide(JoinRequest(name: "m\(index)", from: nil, stream: nil, secret: "s3cret")) }
        #expect(root.tree?["m7"] == "m3")
        #expect(root.childLost(LossReport(reporter: "m1", child: "m7", secret: "s3cret")) == .success([]), "m1 is not m7's parent")
        #expect(root.childLost(LossReport(reporter: "m3", child: "m7", secret: "wrong")) == .failure(.init(code: 403, reason: "the join's proof does not match this fleet's secret")))
        #expect(root.childLost(LossReport(reporter: "m3", child: "m7", secret: "s3cret")) == .success([.evict(node: "m7")]), "the last node: nothing moves")
        #expect(root.tree?["m7"] == nil)
        #expect(root.tree?.count == 6)
        let mirror = PeerDirectory(name: "m1", fleet: Self.fleet)
        guard case .failure(let refusal) = mirror.childLost(LossReport(reporter: "m3", child: "m7", secret: "s3cret")) else {
            Issue.record("a mirror must refuse loss reports")
            return
        }
        #expect(refusal.code == 404)
    }
}
