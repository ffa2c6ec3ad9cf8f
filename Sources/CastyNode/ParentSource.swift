import CastyUpstream
import CastyICY
import CastyPeerProtocol
import NIOCore

/// Where a mirror takes its stream from: its link to a parent in the tree, which
/// ``ParentLinkService`` drives. The real one is ``CastyUpstream/ParentLink`` (joins through the
/// root with libcurl and rejoins when the link fails); tests use fakes.
public protocol ParentSource: Sendable {
    /// Starts joining. Before every join the source asks `position` where the mirror stands in
    /// the stream; a parent's acceptance comes through `onAccepted`, then its segments go
    /// straight to `sink` and its other frames come through `onControl`, in the order sent;
    /// every time the link goes down (and the source rejoins) `onDown` gets the cause.
    func start(
        position: @escaping @Sendable () -> ParentLink.Position,
        sink: any ParentSink,
        onAccepted: @escaping @Sendable (ParentAcceptance) -> Void,
        onControl: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    )

    /// Ends the current link and rejoins through the root (this node's place in the tree is
    /// stale). Called from `onAccepted` or `onControl`, nothing more of that parent reaches the
    /// sink or the callbacks.
    func relocate()

    /// Stops and returns once nothing is called any more.
    func stop() async
}
