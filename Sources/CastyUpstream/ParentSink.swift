import CastyICY

/// Where a parent's segments go at a mirror (or at an ingest that follows the root), straight
/// from the link's ``PeerStreamHandler``: the node's hub, which keeps the parent's numbers, ignores
/// a number it has, and counts a gap as a loss. Nothing of the link or its service sits in between;
/// only control frames (place, tree changes, heartbeats, context…) go to the link's event handling.
///
/// Called on the link's thread, one call at a time, in the order the parent sent them.
public protocol ParentSink: Sendable {
    /// Segment `seq` of the parent's stream.
    func receive(seq: UInt64, segment: ICYSegment)
}
