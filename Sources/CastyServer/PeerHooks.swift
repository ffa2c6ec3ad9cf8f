/// What a node's server asks of the rest of the node when the tree needs it.
public struct PeerHooks: Sendable {
    /// This node's place is stale (an ancestor tried to join it): rejoin through the root.
    public var relocateSelf: (@Sendable () -> Void)?

    /// Creates hooks; a node without peers needs none.
    public init(relocateSelf: (@Sendable () -> Void)? = nil) {
        self.relocateSelf = relocateSelf
    }
}
