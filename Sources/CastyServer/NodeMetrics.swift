import NIOConcurrencyHelpers
import Prometheus

/// `GET /metrics`: the node's counters and gauges in the Prometheus text format, through
/// swift-prometheus. The numbers live in the hub's ``NodeCounters`` (the status report reads them
/// too); each scrape moves the Prometheus counters forward by what they gained since the last
/// scrape, so counters only ever grow.
final class NodeMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let listeners: Gauge
    private let peers: Gauge
    private let ring: Gauge
    private let lag: Gauge
    private let counters: [(Counter, @Sendable (NodeCounters.Values) -> Int)]
    private let exported: NIOLockedValueBox<[Int]>

    init(role: String, name: String) {
        let labels = [("node", name), ("role", role)]
        let registry = self.registry
        func descriptor(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "casty", metricName: name, unitName: unit, helpText: help)
        }
        self.listeners = registry.makeGauge(descriptor: descriptor("listeners", unit: "", help: "Players connected now"), labels: labels)
        self.peers = registry.makeGauge(descriptor: descriptor("peers", unit: "", help: "Child peers and observers connected now"), labels: labels)
        self.ring = registry.makeGauge(descriptor: descriptor("ring", unit: "segments", help: "Segments kept in the ring buffer"), labels: labels)
        self.lag = registry.makeGauge(descriptor: descriptor("lag", unit: "segments", help: "Segments this node is behind its parent"), labels: labels)
        let definitions: [(MetricNameDescriptor, @Sendable (NodeCounters.Values) -> Int)] = [
            (descriptor("segments_in", unit: "total", help: "Segments taken in from the radio or the parent"), { $0.segmentsIn }),
            (descriptor("segments_out", unit: "total", help: "Segments sent, one per listener or peer per segment"), { $0.segmentsOut }),
            (descriptor("bytes_out", unit: "total", help: "Bytes sent to players and peers"), { $0.bytesOut }),
            (descriptor("dropped_slow_listeners", unit: "total", help: "Listeners dropped for falling too far behind"), { $0.droppedSlowListeners }),
            (descriptor("lost_segments", unit: "total", help: "Segments missing between the parent's and this node's"), { $0.lostSegments }),
            (role == "ingest"
                ? descriptor("upstream_reconnects", unit: "total", help: "Reconnects to the radio")
                : descriptor("rejoins", unit: "total", help: "Rejoins of the tree"), { $0.reconnects }),
        ]
        self.counters = definitions.map { (registry.makeCounter(descriptor: $0.0, labels: labels), $0.1) }
        self.exported = NIOLockedValueBox(Array(repeating: 0, count: definitions.count))
    }

    /// The exposition text.
    func render(hub: StreamHub) -> [UInt8] {
        let values = hub.counters.values
        return self.exported.withLockedValue { exported in
            for (index, (counter, read)) in self.counters.enumerated() {
                let value = read(values)
                if value > exported[index] {
                    counter.increment(by: Int64(value - exported[index]))
                    exported[index] = value
                }
            }
            self.listeners.set(Double(values.listeners))
            self.peers.set(Double(values.peers))
            self.ring.set(Double(hub.ringCount))
            self.lag.set(Double(hub.lagSegments))
            var bytes: [UInt8] = []
            self.registry.emit(into: &bytes)
            return bytes
        }
    }
}
