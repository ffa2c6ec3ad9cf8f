import NIOConcurrencyHelpers
import Prometheus

/// `GET /metrics`: the node's counters and gauges in the Prometheus text format, through
/// swift-prometheus. The hub's atomics stay the source of truth (the status report reads them
/// too); each scrape moves the Prometheus counters forward by what the atomics gained since the
/// last scrape, so counters only ever grow.
final class NodeMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let listeners: Gauge
    private let peers: Gauge
    private let ring: Gauge
    private let lag: Gauge
    private let counters: [(Counter, @Sendable (StreamHub) -> Int)]
    private let exported: NIOLockedValueBox<[Int]>

    init(role: String, name: String) {
        let labels = [("node", name), ("role", role)]
        self.listeners = self.registry.makeGauge(name: "casty_listeners", labels: labels, help: "Players connected now")
        self.peers = self.registry.makeGauge(name: "casty_peers", labels: labels, help: "Child peers and observers connected now")
        self.ring = self.registry.makeGauge(name: "casty_ring_segments", labels: labels, help: "Segments kept in the ring buffer")
        self.lag = self.registry.makeGauge(name: "casty_lag_segments", labels: labels, help: "Segments this node is behind its parent")
        let definitions: [(String, String, @Sendable (StreamHub) -> Int)] = [
            ("casty_segments_in_total", "Segments taken in from the radio or the parent", { $0.segmentsIn.load(ordering: .relaxed) }),
            ("casty_segments_out_total", "Segments sent, one per listener or peer per segment", { $0.segmentsOut.load(ordering: .relaxed) }),
            ("casty_bytes_out_total", "Bytes sent to players and peers", { $0.bytesOut.load(ordering: .relaxed) }),
            ("casty_dropped_slow_listeners_total", "Listeners dropped for falling too far behind", { $0.droppedSlowListeners.load(ordering: .relaxed) }),
            ("casty_lost_segments_total", "Segments missing between the parent's and this node's", { $0.lostSegments.load(ordering: .relaxed) }),
            (role == "ingest" ? "casty_upstream_reconnects_total" : "casty_rejoins_total",
             role == "ingest" ? "Reconnects to the radio" : "Rejoins of the tree", { $0.reconnects.load(ordering: .relaxed) }),
        ]
        let registry = self.registry
        self.counters = definitions.map { (registry.makeCounter(name: $0.0, labels: labels, help: $0.1), $0.2) }
        self.exported = NIOLockedValueBox(Array(repeating: 0, count: definitions.count))
    }

    /// The exposition text.
    func render(hub: StreamHub) -> [UInt8] {
        self.exported.withLockedValue { exported in
            for (index, (counter, read)) in self.counters.enumerated() {
                let value = read(hub)
                if value > exported[index] {
                    counter.increment(by: Int64(value - exported[index]))
                    exported[index] = value
                }
            }
            self.listeners.set(Double(hub.listeners.load(ordering: .relaxed)))
            self.peers.set(Double(hub.peers.load(ordering: .relaxed)))
            self.ring.set(Double(hub.ringCount))
            self.lag.set(Double(hub.lagSegments))
            var bytes: [UInt8] = []
            self.registry.emit(into: &bytes)
            return bytes
        }
    }
}
