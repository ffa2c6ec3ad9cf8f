import Foundation

/// The body of `GET /status.json` (docs/PROTOCOL.md, *Status*): what a node says of itself, and
/// at the root of the whole fleet. Every node serves it; the root reads its mirrors', a standby
/// ingest the root's, tools and the status page everyone's. A pure value: the server fills it in
/// from its node, readers decode it.
public struct NodeStatus: Codable, Sendable {
    /// Where the node takes its stream from, and how that goes.
    public struct Upstream: Codable, Sendable {
        public var url: String
        public var state: String

        /// Creates the upstream part of a status.
        public init(url: String, state: String) {
            self.url = url
            self.state = state
        }
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

        /// Creates one node's entry of the root's `nodes`.
        public init(name: String, parent: Nullable, depth: Int?, listeners: Int, seq: UInt64?, lag: Int?, state: String, url: String) {
            self.name = name
            self.parent = parent
            self.depth = depth
            self.listeners = listeners
            self.seq = seq
            self.lag = lag
            self.state = state
            self.url = url
        }
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

    /// Creates the status of a node with what every node reports; the fields of a node in a
    /// fleet (its place, the root's tree and nodes, the term) start absent.
    public init(
        role: String, name: String, stream: String, seq: UInt64?, upstream: Upstream, format: String, listeners: Int,
        uptimeSeconds: Double, bytesOut: Int, droppedSlowListeners: Int, lostSegments: Int
    ) {
        self.role = role
        self.name = name
        self.stream = stream
        self.seq = seq
        self.upstream = upstream
        self.format = format
        self.listeners = listeners
        self.uptimeSeconds = uptimeSeconds
        self.bytesOut = bytesOut
        self.droppedSlowListeners = droppedSlowListeners
        self.lostSegments = lostSegments
        self.parent = Nullable(nil)
        self.children = []
    }

    /// The status as JSON with sorted keys.
    public func json() -> String {
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
