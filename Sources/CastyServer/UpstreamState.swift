/// How a node's upstream (the radio at the ingest, the parent at a mirror) is doing, for the
/// status report. ``description`` is the text of `/status.json`'s `upstream.state`, which the
/// status page and the tests read.
public enum UpstreamState: Sendable, Equatable, CustomStringConvertible {
    /// The node has not tried its upstream yet.
    case starting
    /// A connection to the radio is being made.
    case connecting
    /// Connected to the radio and receiving.
    case connected
    /// A mirror joined the tree under `parent` and receives from it.
    case connectedTo(String)
    /// The last attempt to reach the radio failed for `cause`; the next comes after `after`.
    case retrying(after: Duration, cause: String)
    /// A mirror's parent link went down for `cause`; it rejoins through the root.
    case rejoining(String)
    /// On demand: nobody listens, so the radio is not pulled.
    case idleOnDemand
    /// The upstream was stopped.
    case stopped
    /// The radio's URL is not a stream Casty can relay; the message says why.
    case refused(String)

    /// The state as `/status.json` reports it: `connected`, `retrying in 0.5 seconds: …`, and so on.
    public var description: String {
        switch self {
        case .starting: "starting"
        case .connecting: "connecting"
        case .connected: "connected"
        case .connectedTo(let parent): "connected to \(parent)"
        case .retrying(let delay, let cause): "retrying in \(delay): \(cause)"
        case .rejoining(let cause): "rejoining: \(cause)"
        case .idleOnDemand: "idle (on demand)"
        case .stopped: "stopped"
        case .refused(let message): "refused: \(message)"
        }
    }
}
