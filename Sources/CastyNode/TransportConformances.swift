import CastyCurl
import CastyPeerProtocol
import Dispatch

// The real transports, libcurl's, as the sources the node's services drive.
//
// `UpstreamPuller.stop()` and `ParentLink.stop()` block their caller until their thread ends
// (up to about a second); the async `stop()` below runs them on a dispatch queue instead, so no
// thread of Swift's cooperative pool waits. (Inside those closures, which are not async, `stop()`
// is the transport's own blocking one.)

extension UpstreamPuller: UpstreamSource {
    /// Stops pulling, as the blocking `stop()` does, without blocking the calling thread.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.stop()
                continuation.resume()
            }
        }
    }
}

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

    /// Stops the link, as the blocking `stop()` does, without blocking the calling thread.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.stop()
                continuation.resume()
            }
        }
    }
}

extension ParentAcceptance {
    /// The acceptance a ``CastyCurl/PeerStreamHandler`` decoded.
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
