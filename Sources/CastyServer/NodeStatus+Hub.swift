import CastyPeerProtocol
import CastyTree

extension NodeStatus {
    /// This node's status, read from its hub (the stream and the counters), its directory (its
    /// place, and at the root the tree) and, at the root, its view of the other nodes.
    init(info: NodeInfo, hub: StreamHub, directory: PeerDirectory?, fleetNodes: FleetNodes?) {
        let snapshot = hub.snapshot()
        let counters = hub.counters.values
        self.init(
            role: info.role,
            name: info.name,
            stream: snapshot.stream,
            seq: snapshot.lastSeq,
            upstream: Upstream(url: info.upstreamURL, state: snapshot.upstream.description),
            format: snapshot.format.rawValue,
            listeners: snapshot.listeners,
            uptimeSeconds: Double(snapshot.uptime.components.seconds) + Double(snapshot.uptime.components.attoseconds) / 1e18,
            bytesOut: snapshot.bytesOut,
            droppedSlowListeners: counters.droppedSlowListeners,
            lostSegments: counters.lostSegments
        )
        self.title = snapshot.title
        self.station = snapshot.context.name
        self.genre = snapshot.context.headers.first(name: "icy-genre")
        self.bitrate = snapshot.context.bitrate
        let place = directory?.place
        self.parent = Nullable(place?.parent)
        self.children = place?.children ?? []
        self.depth = place?.depth
        self.tree = directory?.tree
        self.rootURL = directory?.rootURL
        if let election = directory?.election {
            let (claim, isRoot) = election.read { ($0.terms.highest, $0.isRoot) }
            (self.term, self.root, self.isRoot) = (claim?.term, claim?.root, isRoot)
        }
        if let fleetNodes, let tree = self.tree {
            self.nodes = fleetNodes(tree, (snapshot.listeners, snapshot.lastSeq), info.name)
        }
    }
}
