import CastyTree
import Testing

/// When a rejoin names the former parent `lost`.
@Suite struct LostParentRuleTests {
    @Test func aFailedLinkNamesItsParentAndALeaveNever() {
        var rule = LostParentRule()
        #expect(rule.linkEnded(parent: "m1", end: .failed) == "m1")
        #expect(rule.linkEnded(parent: "m1", end: .onPurpose) == nil)
        #expect(rule.linkEnded(parent: nil, end: .failed) == nil, "a join never accepted names nobody")
    }

    @Test func oneBadFrameIsForgivenTwoInARowFromTheSameParentAreNot() {
        var rule = LostParentRule()
        #expect(rule.linkEnded(parent: "m1", end: .protocolError) == nil, "one bad frame does not scatter m1's subtree")
        #expect(rule.suspect == "m1")
        #expect(rule.linkEnded(parent: nil, end: .failed) == nil, "a refused join in between changes nothing")
        #expect(rule.linkEnded(parent: "m1", end: .protocolError) == "m1", "the same parent again: it is named lost")
        #expect(rule.suspect == nil)
        #expect(rule.linkEnded(parent: "m1", end: .protocolError) == nil, "a fresh start after that")
    }

    @Test func aGoodLinkOrAnotherParentClearsTheSuspicion() {
        var rule = LostParentRule()
        _ = rule.linkEnded(parent: "m1", end: .protocolError)
        #expect(rule.linkEnded(parent: "m2", end: .protocolError) == nil, "m2 is another parent")
        #expect(rule.suspect == "m2")
        #expect(rule.linkEnded(parent: "m2", end: .onPurpose) == nil)
        #expect(rule.linkEnded(parent: "m2", end: .protocolError) == nil, "the leave in between cleared it")
    }
}
