import CastyICY
import CastyServer
import CastyStream
import CastyUpstream
import CastyPeerProtocol

// The real transports, libcurl's, as the sources the node's services drive. Their `stop()`
// suspends until their worker's thread has ended, without blocking a thread.

extension UpstreamPuller: UpstreamSource {}

extension ParentLink: ParentSource {}

// The hub as the sink the transports' handlers hand segments to, with nothing in between: this
// module is the one that sees both (the transports do not depend on each other).

extension StreamHub: RadioSink {
    /// The radio's reply head is the stream's context (kept for a takeover at a fleet's ingest
    /// that follows the root); the next segment's bytes confirm or correct its format.
    public func connected(head: ICYResponseHead) {
        self.radioConnected(StreamContext(upstream: head))
    }
}

extension StreamHub: ParentSink {}
