import CastyTree
import Testing

@Suite struct ChildSlotsTests {
    @Test func acceptsUpToFanoutThenRedirectsLeftRightInTurn() {
        var slots = ChildSlots(fanout: 2)
        #expect(!slots.isFull)
        #expect(slots.join("a") == .accept)
        #expect(slots.join("b") == .accept)
        #expect(slots.isFull)
        #expect(slots.children == ["a", "b"])
        let redirects = ["c", "d", "e", "f", "g"].map { slots.join($0) }
        #expect(redirects == [.redirect(to: "a"), .redirect(to: "b"), .redirect(to: "a"), .redirect(to: "b"), .redirect(to: "a")])
        #expect(slots.children == ["a", "b"], "redirected joiners are not children")
    }

    @Test func roundRobinCoversEverySlotWithALargerFanout() {
        var slots = ChildSlots(fanout: 3)
        for name in ["a", "b", "c"] { #expect(slots.join(name) == .accept) }
        let redirects = (0..<6).map { slots.join("x\($0)") }
        #expect(redirects == ["a", "b", "c", "a", "b", "c"].map { ChildSlots.Decision.redirect(to: $0) })
    }

    @Test func rejoinOfAChildIsAcceptedWithoutTakingAnotherSlot() {
        var slots = ChildSlots(fanout: 2)
        #expect(slots.join("a") == .accept)
        #expect(slots.join("a") == .accept)
        #expect(slots.children == ["a"])
        #expect(!slots.isFull)
        #expect(slots.join("b") == .accept)
        #expect(slots.join("a") == .accept, "a full node still accepts its own child again")
        #expect(slots.join("b") == .accept)
        #expect(slots.children == ["a", "b"])
    }

    @Test func removeFreesTheSlotForTheNextJoiner() {
        var slots = ChildSlots(fanout: 2)
        _ = slots.join("a")
        _ = slots.join("b")
        slots.remove("a")
        #expect(!slots.isFull)
        #expect(slots.children == ["b"])
        #expect(slots.join("c") == .accept)
        #expect(slots.children == ["c", "b"], "the newcomer takes the freed slot, keeping slot order")
        #expect(slots.isFull)
        #expect(slots.join("d") == .redirect(to: "c"))
        slots.remove("nobody")
        #expect(slots.children == ["c", "b"])
    }
}
