import CastyTree
import Testing

@Suite struct TermRuleTests {
    typealias Claim = TermRule.Claim

    @Test func theFirstClaimIsAdopted() {
        var rule = TermRule(primary: "root")
        #expect(rule.term == 0)
        #expect(rule.observe(Claim(term: 1, root: "root")) == .adopted(Claim(term: 1, root: "root")))
        #expect(rule.observe(Claim(term: 1, root: "root")) == .current)
        #expect(rule.term == 1)
    }

    @Test func aHigherTermIsFollowedAndALowerOneIsStale() {
        var rule = TermRule(primary: "root")
        _ = rule.observe(Claim(term: 1, root: "root"))
        #expect(rule.observe(Claim(term: 2, root: "root2")) == .adopted(Claim(term: 2, root: "root2")))
        // The old primary, back with its old term: refused, told to follow root2.
        #expect(rule.observe(Claim(term: 1, root: "root")) == .stale(follow: Claim(term: 2, root: "root2")))
        #expect(rule.highest == Claim(term: 2, root: "root2"))
        // Terms keep growing with each takeover, whoever takes over.
        #expect(rule.observe(Claim(term: 3, root: "root")) == .adopted(Claim(term: 3, root: "root")))
        #expect(rule.observe(Claim(term: 2, root: "root2")) == .stale(follow: Claim(term: 3, root: "root")))
    }

    @Test func equalTermsAreSettledForThePrimary() {
        var seenStandbyFirst = TermRule(primary: "root")
        _ = seenStandbyFirst.observe(Claim(term: 4, root: "root2"))
        #expect(seenStandbyFirst.observe(Claim(term: 4, root: "root")) == .adopted(Claim(term: 4, root: "root")))

        var seenPrimaryFirst = TermRule(primary: "root")
        _ = seenPrimaryFirst.observe(Claim(term: 4, root: "root"))
        #expect(seenPrimaryFirst.observe(Claim(term: 4, root: "root2")) == .stale(follow: Claim(term: 4, root: "root")))
        // Both orders end on the same root.
        #expect(seenStandbyFirst.highest == seenPrimaryFirst.highest)
    }

    @Test func theTieBreakIsATotalOrder() {
        let rule = TermRule(primary: "p")
        let claims = [Claim(term: 2, root: "b"), Claim(term: 2, root: "p"), Claim(term: 2, root: "a"), Claim(term: 1, root: "z"), Claim(term: 3, root: "b")]
        for a in claims {
            #expect(!rule.outranks(a, a))
            for b in claims where a != b {
                #expect(rule.outranks(a, b) != rule.outranks(b, a), "\(a) vs \(b)")
            }
        }
        #expect(rule.outranks(Claim(term: 2, root: "a"), Claim(term: 2, root: "b")))
        #expect(rule.outranks(Claim(term: 2, root: "p"), Claim(term: 2, root: "a")))
        #expect(rule.outranks(Claim(term: 3, root: "b"), Claim(term: 2, root: "p")))
    }
}
