import CastyICY

/// Where an ingest's radio stream goes, straight from the transfer's ``ICYStreamHandler``: the
/// node's hub, which numbers each segment and fans it out (or, at a fleet's ingest that follows
/// the root, keeps it for a takeover). Nothing of the puller or its service sits in between.
///
/// Called on the transfer's thread, one call at a time, in stream order: a connection's
/// ``connected(head:)`` before its first segment.
public protocol RadioSink: Sendable {
    /// The radio accepted a connection: its reply head says what the stream is (its context).
    /// Comes after the segments a reconnect held back from the connection before.
    func connected(head: ICYResponseHead)

    /// The stream's next segment, cut from the radio's body and spliced: nothing a reconnect
    /// repeats.
    func publish(_ segment: ICYSegment)
}
