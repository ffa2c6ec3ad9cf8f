/// Who a node is, for its status report.
public struct NodeInfo: Sendable {
    /// `ingest` or `mirror`.
    public var role: String
    /// The node's name in the fleet.
    public var name: String
    /// Where the node takes its stream from (the radio's URL, or the parent's).
    public var upstreamURL: String

    /// Creates node information.
    public init(role: String, name: String, upstreamURL: String) {
        self.role = role
        self.name = name
        self.upstreamURL = upstreamURL
    }
}
