import CastyCore
import Foundation
import NIOConcurrencyHelpers

/// At the root: asks every mirror of the fleet file for its `/status.json` once a second, so that
/// the root's status shows the whole fleet (listeners, segment number, lag) and which nodes are down.
public final class FleetMonitor: Sendable {
    /// What the root last heard from a mirror.
    struct Seen: Sendable {
        var listeners: Int
        var seq: UInt64?
        var at: ContinuousClock.Instant
    }

    private let fleet: FleetFile
    private let fetch: @Sendable (String) -> Data?
    private let seen = NIOLockedValueBox<[String: Seen]>([:])
    private let running = NIOLockedValueBox(false)

    /// Creates a monitor; `fetch` GETs a URL and returns its body, or nil (within a short timeout).
    public init(fleet: FleetFile, fetch: @escaping @Sendable (String) -> Data?) {
        self.fleet = fleet
        self.fetch = fetch
    }

    /// Starts polling on a thread of its own.
    public func start() {
        self.running.withLockedValue { $0 = true }
        Thread {
            while self.running.withLockedValue({ $0 }) {
                let started = ContinuousClock.now
                for mirror in self.fleet.mirrors {
                    guard let data = self.fetch("http://\(mirror.host):\(mirror.port)/status.json"),
                        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                    else { continue }
                    let view = Seen(
                        listeners: object["listeners"] as? Int ?? 0,
                        seq: (object["seq"] as? NSNumber).map { $0.uint64Value },
                        at: .now
                    )
                    self.seen.withLockedValue { $0[mirror.name] = view }
                }
                let rest = Duration.seconds(1) - (ContinuousClock.now - started)
                if rest > .zero { Thread.sleep(forTimeInterval: Double(rest.components.attoseconds) / 1e18 + Double(rest.components.seconds)) }
            }
        }.start()
    }

    /// Stops polling (within a second).
    public func stop() {
        self.running.withLockedValue { $0 = false }
    }

    /// Every node of the fleet as the root sees it.
    func nodes(tree: [String: String], root: (listeners: Int, seq: UInt64?)) -> [NodeStatus.FleetNode] {
        let seen = self.seen.withLockedValue { $0 }
        let now = ContinuousClock.now
        func depth(_ name: String) -> Int? {
            var depth = 0
            var node = name
            while node != self.fleet.ingest.name {
                guard let parent = tree[node], depth < 64 else { return nil }
                node = parent
                depth += 1
            }
            return depth
        }
        var nodes = [
            NodeStatus.FleetNode(
                name: self.fleet.ingest.name, parent: Nullable(nil), depth: 0, listeners: root.listeners,
                seq: root.seq, lag: 0, state: "up", url: "http://\(self.fleet.ingest.host):\(self.fleet.ingest.port)/"
            )
        ]
        for mirror in self.fleet.mirrors {
            let view = seen[mirror.name]
            let fresh = view.map { now - $0.at < .milliseconds(2500) } ?? false
            let up = fresh && tree[mirror.name] != nil
            let lag: Int? = up ? root.seq.flatMap { rootSeq in view?.seq.map { rootSeq > $0 ? Int(rootSeq - $0) : 0 } } : nil
            nodes.append(
                NodeStatus.FleetNode(
                    name: mirror.name, parent: Nullable(up ? tree[mirror.name] : nil), depth: up ? depth(mirror.name) : nil,
                    listeners: up ? view?.listeners ?? 0 : 0, seq: up ? view?.seq : nil, lag: lag, state: up ? "up" : "down",
                    url: "http://\(mirror.host):\(mirror.port)/"
                )
            )
        }
        return nodes
    }
}
