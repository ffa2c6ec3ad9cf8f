import CastyTree
import NIOCore

/// What a node's connection handlers share: the stream, the fleet, what the status reports read,
/// the hooks into the rest of the node, and the limits.
struct ConnectionServices: Sendable {
    var hub: StreamHub
    /// The node's directory; `nil` for a node without a fleet (it takes no peers).
    var directory: PeerDirectory?
    var info: NodeInfo
    var metrics: NodeMetrics
    /// At the root: what the status reports of the other nodes of the fleet.
    var fleetNodes: FleetNodes?
    var hooks: PeerHooks
    /// How long a client may take to send its whole request.
    var requestTimeout: TimeAmount
    /// Players a node serves at most; more are answered `503`.
    var maxListeners: Int
}
