import CastyTree
import Foundation

/// The body of `GET /status.json`.
public struct NodeStatus: Codable, Sendable {
    /// Where the node takes its stream from, and how that goes.
    public struct Upstream: Codable, Sendable {
        public var url: String
        public var state: String
    }

    /// One node of the fleet as the root sees it.
    public struct FleetNode: Codable, Sendable {
        public var name: String
        public var parent: Nullable
        public var depth: Int?
        public var listeners: Int
        public var seq: UInt64?
        public var lag: Int?
        public var state: String
        public var url: String
    }

    public var role: String
    public var name: String
    public var stream: String
    public var seq: UInt64?
    public var upstream: Upstream
    public var title: String?
    /// The stream's format as Casty follows it: `mp3`, `aac`, `ogg` or `opaque`.
    public var format: String
    public var station: String?
    public var genre: String?
    public var bitrate: Int?
    public var listeners: Int
    public var uptimeSeconds: Double
    public var bytesOut: Int
    public var droppedSlowListeners: Int
    public var lostSegments: Int
    public var parent: Nullable
    public var children: [String]
    public var depth: Int?
    /// At the root: every placed mirror and its parent.
    public var tree: [String: String]?
    /// At the root: every node of the fleet, up or down, with listeners and lag.
    public var nodes: [FleetNode]?
    /// The root's base URL, whose status has the whole tree.
    public var rootURL: String?
    /// At an ingest of a fleet with a standby: the highest root term it has seen, that term's
    /// root, and whether it is that root.
    public var term: UInt64?
    public var root: String?
    public var isRoot: Bool?

    /// The JSON names, which other nodes and tools read: snake_case where they are two words.
    enum CodingKeys: String, CodingKey {
        case role, name, stream, seq, upstream, title, format, station, genre, bitrate, listeners
        case uptimeSeconds = "uptime_s"
        case bytesOut = "bytes_out"
        case droppedSlowListeners = "dropped_slow_listeners"
        case lostSegments = "lost_segments"
        case parent, children, depth, tree, nodes
        case rootURL = "root_url"
        case term, root
        case isRoot = "is_root"
    }

    init(info: NodeInfo, hub: StreamHub, directory: PeerDirectory?, monitor: FleetMonitor?) {
        let snapshot = hub.snapshot()
        self.role = info.role
        self.name = info.name
        self.stream = snapshot.stream
        self.seq = snapshot.lastSeq
        self.upstream = Upstream(url: info.upstreamURL, state: snapshot.upstream.description)
        self.title = snapshot.title
        self.format = snapshot.format.rawValue
        self.station = snapshot.context.name
        self.genre = snapshot.context.headers.first(name: "icy-genre")
        self.bitrate = snapshot.context.bitrate
        self.listeners = snapshot.listeners
        self.uptimeSeconds = Double(snapshot.uptime.components.seconds) + Double(snapshot.uptime.components.attoseconds) / 1e18
        self.bytesOut = snapshot.bytesOut
        self.droppedSlowListeners = hub.counters.values.droppedSlowListeners
        self.lostSegments = hub.counters.values.lostSegments
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
        if let monitor, let tree = self.tree {
            self.nodes = monitor.nodes(tree: tree, root: (snapshot.listeners, snapshot.lastSeq), rootName: info.name)
        }
    }

    /// The status as JSON with sorted keys.
    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// An optional string that is always written, as `null` when absent (JSON encoders leave out
/// absent optionals; `parent` must be there, null at the root).
public struct Nullable: Codable, Sendable {
    public var value: String?
    public init(_ value: String?) { self.value = value }
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        self.value = container.decodeNil() ? nil : try container.decode(String.self)
    }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = self.value { try container.encode(value) } else { try container.encodeNil() }
    }
}
