/// What a node's server asks of the rest of the node when the tree needs it.
public struct PeerHooks: Sendable {
    /// A child's link died and it did not come back: tell the root (a mirror's way).
    public var reportLoss: (@Sendable (String) -> Void)?
    /// This node's place is stale (an ancestor tried to join it): rejoin through the root.
    public var relocateSelf: (@Sendable () -> Void)?

    /// Creates hooks; a node without peers needs none.
    public init(reportLoss: (@Sendable (String) -> Void)? = nil, relocateSelf: (@Sendable () -> Void)? = nil) {
        self.reportLoss = reportLoss
        self.relocateSelf = relocateSelf
    }
}
