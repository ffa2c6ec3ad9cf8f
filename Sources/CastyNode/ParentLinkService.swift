import Atomics
import CastyCore
import CastyUpstream
import CastyPeerProtocol
import CastyServer
import ServiceLifecycle

/// Keeps a mirror joined to the tree, feeding its hub with its parent's segments: runs a
/// ``ParentSource`` until graceful shutdown.
///
/// A parent that serves another stream identity (a restarted ingest) resets the hub; the
/// acceptance's context, title and this node's place are taken; frames go where they belong
/// (segments into the hub, heartbeats to the lag, tree changes on to the children, context and
/// Ogg header updates into the hub). Every join after the first counts as a reconnect.
public struct ParentLinkService: Service {
    let link: any ParentSource
    let hub: StreamHub
    let directory: PeerDirectory
    /// Joins accepted so far.
    let joins = ManagedAtomic(0)
    /// The current parent is under a stale root: its frames are ignored until the next join.
    let ignoringParent = ManagedAtomic(false)

    /// Creates the service of a mirror whose parent link is `link`.
    public init(link: any ParentSource, hub: StreamHub, directory: PeerDirectory) {
        self.link = link
        self.hub = hub
        self.directory = directory
    }

    /// Starts the link, and stops it on graceful shutdown.
    public func run() async throws {
        self.link.start(
            position: { self.position() },
            onAccepted: { self.accepted($0) },
            onFrame: { self.received($0) },
            onDown: { self.hub.setUpstreamState(.rejoining($0)) }
        )
        try? await gracefulShutdown()
        await self.link.stop()
    }

    /// Where the hub stands: the next segment it wants, in the stream it follows (none yet: `nil`).
    func position() -> ParentLink.Position {
        let identity = self.hub.identity.value
        return ParentLink.Position(nextSeq: self.hub.nextSeq, stream: identity == "none" ? nil : identity)
    }

    /// A parent accepted this node.
    func accepted(_ acceptance: ParentAcceptance) {
        // A fleet with a standby root: a parent under a stale root is left at once, and its
        // frames ignored; the next join carries the higher term, which the stale root refuses.
        let stale = self.directory.election == nil && self.isStale(acceptance)
        self.ignoringParent.store(stale, ordering: .relaxed)
        if stale {
            self.link.relocate()
            return
        }
        let hub = self.hub
        if self.joins.loadThenWrappingIncrement(ordering: .relaxed) > 0 { hub.counters.reconnected() }
        if acceptance.stream != hub.identity.value {
            hub.resetStream(identity: StreamIdentity(value: acceptance.stream), nextSeq: acceptance.nextSeq)
        }
        // A parent that has no context yet (its own upstream not reached) leaves ours as is;
        // a context frame brings it later.
        let context = StreamContext(upstream: acceptance.head)
        if !context.headers.isEmpty || hub.context.headers.isEmpty { hub.setContext(context) }
        if let metadata = acceptance.metadata { hub.resume(metadata: metadata) }
        self.directory.joined(parent: acceptance.parent, depth: acceptance.depth, path: acceptance.path)
        hub.setUpstreamState(.connectedTo(acceptance.parent))
    }

    /// Whether the parent's reply names a root claim outranked by one this node has seen.
    private func isStale(_ acceptance: ParentAcceptance) -> Bool {
        guard let term = acceptance.head.headers.first(name: PeerProtocol.termHeader).flatMap({ UInt64($0) }),
            let root = acceptance.head.headers.first(name: PeerProtocol.rootHeader)
        else { return false }
        if case .stale = self.directory.observe(TermRule.Claim(term: term, root: root)) { return true }
        return false
    }

    /// A frame from the parent.
    func received(_ frame: PeerFrame) {
        guard !self.ignoringParent.load(ordering: .relaxed) else { return }
        let hub = self.hub
        switch frame {
        case .data(let seq, let segment): hub.receive(seq: seq, segment: segment)
        case .tree(let change): hub.broadcast(change)
        case .heartbeat(let newest): hub.parentNewestSeq.store(newest, ordering: .relaxed)
        case .context(let headers): hub.setContext(StreamContext(headers: headers))
        case .codecHeaders(let pages): hub.resume(codecHeaders: pages)
        case .leave: break
        }
    }
}
