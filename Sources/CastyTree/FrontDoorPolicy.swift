/// The fleet's one URL (issue 20): where the front door (the root, or a node configured as one)
/// sends a new player, as a pure value. Each node counts by the share of its listener limit in
/// use, counting both what it last reported and the players sent to it since; a new player goes
/// to the node with the smallest share, so players spread over the nodes in proportion to their
/// limits, and a burst of arrivals between two reports does not pile onto one node. A node that
/// is not serving (draining, failed, not yet connected to the stream) or is full gets nobody.
public struct FrontDoorPolicy: Sendable, Equatable {
    /// What a node last reported.
    public struct Node: Sendable, Equatable {
        /// Its name in the fleet file.
        public var name: String
        /// Players it serves at most (its `--max-listeners`).
        public var limit: Int
        /// Players it serves now.
        public var listeners: Int
        /// Whether it may take players: connected to the stream, not draining, not failed.
        public var serving: Bool

        /// A report.
        public init(name: String, limit: Int, listeners: Int, serving: Bool) {
            self.name = name
            self.limit = limit
            self.listeners = listeners
            self.serving = serving
        }
    }

    /// The last report of each node, in the order first reported (which breaks ties).
    private var nodes: [Node] = []
    /// Players sent to each node since its last report.
    private var sent: [String: Int] = [:]

    /// No node known yet.
    public init() {}

    /// A node's report (the root's poll of its status): players sent there before it are in it.
    public mutating func reported(_ node: Node) {
        if let index = self.nodes.firstIndex(where: { $0.name == node.name }) {
            self.nodes[index] = node
        } else {
            self.nodes.append(node)
        }
        self.sent[node.name] = 0
    }

    /// A node left the fleet, or stopped answering: it gets nobody.
    public mutating func forget(_ name: String) {
        self.nodes.removeAll { $0.name == name }
        self.sent[name] = nil
    }

    /// The node a new player goes to, counted as sent there; `nil` when no node serving has room
    /// (the front door then serves the player itself).
    public mutating func choose() -> String? {
        var best: (name: String, used: Int, limit: Int)?
        for node in self.nodes where node.serving && node.limit > 0 {
            let used = node.listeners + (self.sent[node.name] ?? 0)
            guard used < node.limit else { continue }
            // used / limit < best.used / best.limit, without division.
            if let current = best, used * current.limit >= current.used * node.limit { continue }
            best = (node.name, used, node.limit)
        }
        guard let best else { return nil }
        self.sent[best.name, default: 0] += 1
        return best.name
    }

    /// Each node's share of the players sent since the reports, for the status page.
    public var pending: [String: Int] { self.sent.filter { $0.value > 0 } }
}
