import CastyStream

/// What a fleet's ingest keeps of its own radio while it is not the root (a standby, or a primary
/// that found the standby in charge), as a pure value the ``StreamHub`` holds under its lock:
/// while it follows, the root's segments are the stream and its own radio's are only kept; at
/// its takeover, the kept audio and every later segment are spliced onto the root's last byte
/// (``CastyStream/TakeoverSplicer``), and its own radio's context and state become the stream's.
///
/// Holding it in the hub, not in a layer in front of it, is what keeps a segment of a standby's
/// own radio on the same five hops as any ingest's, and the takeover's segments in order with
/// the radio's: both are numbered and handed to the fan-outs under the one lock.
struct StandbyStream: Sendable {
    /// The root's segments as sent, and the own radio's kept; after the takeover, the splice.
    var splicer = TakeoverSplicer()
    /// The own radio's context at its last connection.
    var ownContext: StreamContext?
    /// The own radio's last state.
    var ownState = UpstreamState.connecting
    /// Whether the takeover happened: the own radio is the stream.
    var tookOver: Bool { self.splicer.tookOver }

    /// A fresh splice (a new link to the root), keeping what is known of the own radio.
    func restarted() -> StandbyStream {
        StandbyStream(ownContext: self.ownContext, ownState: self.ownState)
    }
}
