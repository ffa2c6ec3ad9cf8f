import Atomics
import CastyStream
import CastyTree
import CastyUpstream
import CastyPeerProtocol
import CastyServer
import ServiceLifecycle

/// Keeps a mirror joined to the tree, its hub fed with its parent's segments: runs a
/// ``ParentSource`` until graceful shutdown.
///
/// The service is not on a segment's path: the source hands the parent's segments straight to
/// the hub (its ``CastyUpstream/ParentSink``), which keeps the parent's numbers. The service takes
/// the rest: a parent that serves another stream identity (a restarted ingest) resets the hub;
/// the acceptance's context, title and this node's place are taken; control frames go where they
/// belong (heartbeats to the lag, tree changes on to the children (an evicted node also sends its
/// child mirrors away), context and Ogg header updates into the hub, a new place into the
/// directory and on to the children). A parent under a stale root, or a place that is stale, makes
/// the source leave the parent (``ParentSource/relocate()``): nothing more of it arrives. Every
/// join after the first counts as a reconnect.
public struct ParentLinkService: Service {
    let link: any ParentSource
    let hub: StreamHub
    let directory: PeerDirectory
    let leaving: (@Sendable () async -> Void)?
    /// Joins accepted so far.
    let joins = ManagedAtomic(0)

    /// Creates the service of a mirror whose parent link is `link`; `leaving`, if given, runs
    /// once the link is stopped at graceful shutdown (a mirror tells the root it leaves).
    public init(link: any ParentSource, hub: StreamHub, directory: PeerDirectory, leaving: (@Sendable () async -> Void)? = nil) {
        self.link = link
        self.hub = hub
        self.directory = directory
        self.leaving = leaving
    }

    /// Starts the link, and stops it on graceful shutdown; then runs `leaving`.
    public func run() async throws {
        self.link.start(
            position: { self.position() },
            sink: self.hub,
            onAccepted: { self.accepted($0) },
            onControl: { self.received($0) },
            onDown: { self.hub.setUpstreamState(.rejoining($0)) }
        )
        try? await gracefulShutdown()
        // The link first: a tree change that the root sends on our notice must not make it rejoin.
        await self.link.stop()
        await self.leaving?()
    }

    /// Where the hub stands: the next segment it wants, in the stream it follows (none yet: `nil`).
    func position() -> ParentLink.Position {
        let identity = self.hub.identity.value
        return ParentLink.Position(nextSeq: self.hub.nextSeq, stream: identity == "none" ? nil : identity)
    }

    /// A parent accepted this node.
    func accepted(_ acceptance: ParentAcceptance) {
        // A fleet with a standby root: a parent under a stale root is left at once, before any of
        // its frames is taken; the next join carries the higher term, which the stale root refuses.
        let verdict = self.directory.election == nil ? self.claimVerdict(acceptance) : nil
        if case .stale = verdict {
            self.link.relocate()
            return
        }
        if case .adopted(let claim) = verdict { self.hub.announce(claim) }
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
        // A new place (the root moved this node) is passed on: each child hears its own.
        if self.directory.joined(parent: acceptance.parent, depth: acceptance.depth, path: acceptance.path) { hub.placeChanged() }
        hub.setUpstreamState(.connectedTo(acceptance.parent))
    }

    /// The root claim the parent's reply names, against the one this node follows (`nil`: none
    /// named).
    private func claimVerdict(_ acceptance: ParentAcceptance) -> TermRule.Verdict? {
        guard let term = acceptance.head.headers.first(name: PeerProtocol.termHeader).flatMap({ UInt64($0) }),
            let root = acceptance.head.headers.first(name: PeerProtocol.rootHeader)
        else { return nil }
        return self.directory.observe(TermRule.Claim(term: term, root: root))
    }

    /// A `term` frame: a higher claim is taken and passed on to the children; a stale one means
    /// the parent is under a stale root, which this node leaves.
    private func termFrame(_ claim: TermRule.Claim) {
        guard self.directory.election == nil else { return }  // an ingest learns claims by asking
        switch self.directory.observe(claim) {
        case .adopted(let claim): self.hub.announce(claim)
        case .stale: self.link.relocate()  // nothing after this frame is taken
        case .current: break
        }
    }

    /// A control frame from the parent.
    func received(_ frame: PeerFrame) {
        let hub = self.hub
        switch frame {
        case .data, .leave: break  // segments go straight to the hub; a leave ends the link
        case .tree(let change):
            // A drain of this node: its directory drains (new players are refused from now on; the
            // FleetReloader does the rest).
            _ = self.directory.treeChanged(change)
            hub.broadcast(change)
            // Evicted: the root placed this node's children elsewhere (under the mirror it moved
            // into the hole); they must go there, or they stay below a node the root thinks has none.
            if case .evict(let node) = change, node == self.directory.name {
                hub.sendChildMirrorsAway(reason: "this node was evicted by the root; rejoin")
            }
        case .heartbeat(let newest): hub.parentNewestSeq.store(newest, ordering: .relaxed)
        case .context(let headers): hub.setContext(StreamContext(headers: headers))
        case .codecHeaders(let pages): hub.resume(codecHeaders: pages)
        case .place(let depth, let path):
            switch self.directory.moved(depth: depth, path: path) {
            case .unchanged: break
            case .changed: hub.placeChanged()
            case .stale: self.link.relocate()
            }
        case .term(let term, let root): self.termFrame(TermRule.Claim(term: term, root: root))
        }
    }
}
