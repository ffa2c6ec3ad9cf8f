import CastyPeerProtocol
import CastyTree
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// At the root: asks every mirror of the fleet file for its `/status.json` once a second, so that
/// the root's status shows the whole fleet (listeners, segment number, lag) and which nodes are down.
///
/// Every round asks all mirrors at once through a ``ControlClient``, each request with its own
/// timeout, so a mirror that never answers costs the others nothing. It runs as a service of the
/// node (``run()``), with no thread of its own.
public final class FleetMonitor: Service, Sendable {
    /// What the root last heard from a mirror.
    struct Seen: Sendable {
        var listeners: Int
        var seq: UInt64?
        /// Its parent, as it says (nil while it has none).
        var parent: String?
        var at: ContinuousClock.Instant
    }

    private let current: NIOLockedValueBox<FleetFile>
    private let fetch: @Sendable (String) async -> ByteBuffer?
    private let interval: Duration
    private let seen = NIOLockedValueBox<[String: Seen]>([:])

    /// Creates a monitor that asks each mirror through `client`, every `interval`, giving each
    /// request `timeout`.
    public convenience init(fleet: FleetFile, client: ControlClient, interval: Duration = .seconds(1), timeout: Duration = .milliseconds(800)) {
        self.init(fleet: fleet, interval: interval) { url in
            guard let reply = try? await client.get(url, timeout: timeout), reply.status == 200 else { return nil }
            return reply.body
        }
    }

    /// Creates a monitor; `fetch` GETs a URL and returns the body of a `200` reply, or nil (within
    /// a short timeout, and at once when its task is cancelled).
    init(fleet: FleetFile, interval: Duration = .seconds(1), fetch: @escaping @Sendable (String) async -> ByteBuffer?) {
        self.current = NIOLockedValueBox(fleet)
        self.interval = interval
        self.fetch = fetch
    }

    /// The fleet file in use.
    private var fleet: FleetFile { self.current.withLockedValue { $0 } }

    /// A reloaded fleet file: the next round asks its mirrors, and the status lists them.
    public func update(fleet: FleetFile) {
        self.current.withLockedValue { $0 = fleet }
    }

    /// Polls until the task is cancelled or the service group shuts down gracefully.
    public func run() async {
        await cancelWhenGracefulShutdown {
            await self.poll()
        }
    }

    /// Asks every mirror, once per interval, until cancelled.
    private func poll() async {
        let clock = ContinuousClock()
        var round = clock.now
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                for mirror in self.fleet.mirrors {
                    group.addTask { await self.ask(mirror) }
                }
            }
            round = max(round + self.interval, clock.now)
            do {
                try await Task.sleep(until: round, clock: clock)
            } catch {
                return
            }
        }
    }

    /// Asks one mirror for its status and notes what it says.
    private func ask(_ mirror: FleetFile.Node) async {
        guard let body = await self.fetch("http://\(Self.authority(mirror))/status.json"),
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { return }
        let view = Seen(
            listeners: object["listeners"] as? Int ?? 0,
            seq: (object["seq"] as? NSNumber).map { $0.uint64Value },
            parent: object["parent"] as? String,
            at: .now
        )
        self.seen.withLockedValue { $0[mirror.name] = view }
    }

    /// Each mirror's parent as the mirror itself said in the last round (within 2.5 s), for
    /// the root to compare with its tree (``CastyTree/MisplacedMirrors``); mirrors that said
    /// nothing lately, or have no parent, are left out.
    public func placesSaid() -> [String: String] {
        let now = ContinuousClock.now
        return self.seen.withLockedValue { seen in
            seen.compactMapValues { view in now - view.at < .milliseconds(2500) ? view.parent : nil }
        }
    }

    /// `host:port`, with an IPv6 address in brackets.
    private static func authority(_ node: FleetFile.Node) -> String {
        node.host.contains(":") && !node.host.hasPrefix("[") ? "[\(node.host)]:\(node.port)" : "\(node.host):\(node.port)"
    }

    /// Every node of the fleet as the root sees it; `rootName` is the root's (the fleet's ingest
    /// unless its standby took over).
    public func nodes(tree: [String: String], root: (listeners: Int, seq: UInt64?), rootName: String? = nil) -> [NodeStatus.FleetNode] {
        let rootNode = rootName.flatMap { try? self.fleet.node(named: $0) } ?? self.fleet.ingest
        let seen = self.seen.withLockedValue { $0 }
        let fleet = self.fleet
        let now = ContinuousClock.now
        func depth(_ name: String) -> Int? {
            var depth = 0
            var node = name
            while node != rootNode.name {
                guard let parent = tree[node], depth < 64 else { return nil }
                node = parent
                depth += 1
            }
            return depth
        }
        var nodes = [
            NodeStatus.FleetNode(
                name: rootNode.name, parent: Nullable(nil), depth: 0, listeners: root.listeners,
                seq: root.seq, lag: 0, state: "up", url: "http://\(rootNode.host):\(rootNode.port)/"
            )
        ]
        for mirror in fleet.mirrors {
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
