/// A node's local rule for the joins that reach it: it feeds at most `fanout` child peers. A join
/// that finds every slot taken is sent on to one of the children, in turn (round robin over the
/// slots), so that the subtree below stays balanced.
///
/// Pure state: the caller decides when a child has left or died and calls ``remove(_:)``.
public struct ChildSlots: Sendable {
    /// What a node answers to a peer that asks to become its child.
    public enum Decision: Equatable, Sendable {
        /// The joiner is (or already was) a child of this node.
        case accept
        /// Every slot is taken: the joiner should ask this child instead.
        case redirect(to: String)
    }

    /// The most children this node feeds.
    public let fanout: Int
    /// One entry per slot; `nil` is a free slot.
    private var slots: [String?]
    /// The slot the next redirect goes to.
    private var nextRedirect = 0

    /// Creates a node with `fanout` free slots; `fanout` must be at least 1.
    public init(fanout: Int) {
        precondition(fanout >= 1, "a node needs at least one child slot")
        self.fanout = fanout
        self.slots = Array(repeating: nil, count: fanout)
    }

    /// The children, in slot order.
    public var children: [String] { self.slots.compactMap { $0 } }

    /// Whether every slot is taken.
    public var isFull: Bool { !self.slots.contains(nil) }

    /// Answers a join from `name`: `.accept` if it is already a child (a rejoin) or a slot is free
    /// (it takes the first free one); otherwise `.redirect` to the children in turn, in slot order.
    public mutating func join(_ name: String) -> Decision {
        if self.slots.contains(name) { return .accept }
        if let free = self.slots.firstIndex(of: nil) {
            self.slots[free] = name
            return .accept
        }
        let slot = self.nextRedirect
        self.nextRedirect = (slot + 1) % self.fanout
        // Every slot is taken here, so the slot holds a child.
        return .redirect(to: self.slots[slot]!)
    }

    /// Frees the slot of `name` (the child left or died); does nothing if it is not a child.
    public mutating func remove(_ name: String) {
        if let slot = self.slots.firstIndex(of: name) {
            self.slots[slot] = nil
        }
    }
}
