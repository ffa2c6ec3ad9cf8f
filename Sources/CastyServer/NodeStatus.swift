import Foundation

/// The body of `GET /status.json`.
public struct NodeStatus: Codable, Sendable {
    /// Where the node takes its stream from, and how that goes.
    public struct Upstream: Codable, Sendable {
        public var url: String
        public var state: String
    }

    public var role: String
    public var name: String
    public var stream: String
    public var seq: UInt64?
    public var upstream: Upstream
    public var title: String?
    public var station: String?
    public var bitrate: Int?
    public var listeners: Int
    public var uptime_s: Double
    public var bytes_out: Int
    public var dropped_slow_listeners: Int

    init(info: NodeInfo, hub: StreamHub) {
        let snapshot = hub.snapshot()
        self.role = info.role
        self.name = info.name
        self.stream = snapshot.stream
        self.seq = snapshot.lastSeq
        self.upstream = Upstream(url: info.upstreamURL, state: snapshot.upstream)
        self.title = snapshot.title
        self.station = snapshot.context.name
        self.bitrate = snapshot.context.bitrate
        self.listeners = snapshot.listeners
        self.uptime_s = Double(snapshot.uptime.components.seconds) + Double(snapshot.uptime.components.attoseconds) / 1e18
        self.bytes_out = snapshot.bytesOut
        self.dropped_slow_listeners = hub.droppedSlowListeners.load(ordering: .relaxed)
    }

    /// The status as JSON with sorted keys.
    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
