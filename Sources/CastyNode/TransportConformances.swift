import CastyUpstream
import CastyPeerProtocol

// The real transports, libcurl's, as the sources the node's services drive. Their `stop()`
// suspends until their worker's thread has ended, without blocking a thread.

extension UpstreamPuller: UpstreamSource {}

extension ParentLink: ParentSource {
    /// Starts the link, handing its acceptances on as ``ParentAcceptance``s.
    public func start(
        position: @escaping @Sendable () -> ParentLink.Position,
        onAccepted: @escaping @Sendable (ParentAcceptance) -> Void,
        onFrame: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        self.start(
            position: position,
            onAccepted: { (acceptance: PeerStreamHandler.Acceptance) in onAccepted(ParentAcceptance(acceptance)) },
            onFrame: onFrame,
            onDown: onDown
        )
    }
}

extension ParentAcceptance {
    /// The acceptance a ``CastyUpstream/PeerStreamHandler`` decoded.
    init(_ acceptance: PeerStreamHandler.Acceptance) {
        self.init(
            parent: acceptance.parent,
            stream: acceptance.stream,
            nextSeq: acceptance.nextSeq,
            depth: acceptance.depth,
            path: acceptance.path,
            metadata: acceptance.metadata,
            head: acceptance.head
        )
    }
}
