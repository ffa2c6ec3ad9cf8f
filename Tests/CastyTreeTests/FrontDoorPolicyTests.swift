import CastyTree
import Testing

/// The fleet's one URL: players spread in proportion to the nodes' limits, never to a node that
/// does not serve or is full, and a burst between two reports does not pile onto one node.
@Suite struct FrontDoorPolicyTests {
    @Test func playersSpreadInProportionToTheLimits() {
        var policy = FrontDoorPolicy()
        for (name, limit) in [("m1", 100), ("m2", 200), ("m3", 300)] {
            policy.reported(.init(name: name, limit: limit, listeners: 0, serving: true))
        }
        var landed: [String: Int] = [:]
        for _ in 0..<600 { landed[policy.choose() ?? "none", default: 0] += 1 }
        #expect(landed == ["m1": 100, "m2": 200, "m3": 300])
        #expect(policy.choose() == nil, "every node full: the front door serves the player itself")
    }

    @Test func aNodeThatDoesNotServeGetsNobody() {
        var policy = FrontDoorPolicy()
        policy.reported(.init(name: "draining", limit: 1000, listeners: 0, serving: false))
        policy.reported(.init(name: "busy", limit: 100, listeners: 90, serving: true))
        var landed: [String: Int] = [:]
        for _ in 0..<20 { landed[policy.choose() ?? "none", default: 0] += 1 }
        #expect(landed == ["busy": 10, "none": 10])
        policy.forget("busy")
        #expect(policy.choose() == nil)
    }

    @Test func aReportReplacesWhatWasCountedSinceTheLastOne() {
        var policy = FrontDoorPolicy()
        policy.reported(.init(name: "m1", limit: 100, listeners: 0, serving: true))
        policy.reported(.init(name: "m2", limit: 100, listeners: 50, serving: true))
        for _ in 0..<50 { #expect(policy.choose() == "m1") }
        #expect(policy.pending == ["m1": 50])
        // m1 says it has them all now; m2 lost 40 listeners.
        policy.reported(.init(name: "m1", limit: 100, listeners: 50, serving: true))
        policy.reported(.init(name: "m2", limit: 100, listeners: 10, serving: true))
        #expect(policy.pending.isEmpty)
        var landed: [String: Int] = [:]
        for _ in 0..<60 { landed[policy.choose() ?? "none", default: 0] += 1 }
        #expect(landed == ["m1": 10, "m2": 50], "both end at 60 of 100")
    }
}
