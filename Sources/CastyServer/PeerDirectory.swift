import CastyCore
import CastyPeerProtocol
import DequeModule
import Foundation
import NIOConcurrencyHelpers

/// A node's knowledge of the fleet for answering joins: checks a joiner's version, proof and
/// membership, and decides to accept it as a child, or redirect it. At the root, the
/// ``TreeCoordinator`` decides where each mirror goes; at a mirror, its ``ChildSlots``.
public final class PeerDirectory: Sendable {
    /// What to answer a join.
    public enum Decision: Equatable, Sendable {
        /// Accept as a child (or observer) at this depth; `path` is the joiner's ancestors.
        case accept(depth: Int, path: [String])
        /// `307` to this URL.
        case redirect(url: String, to: String)
        /// Refuse with this status code and reason.
        case refuse(code: Int, reason: String)
    }

    struct State {
        var slots: ChildSlots
        var coordinator: TreeCoordinator?
        var nonces: Set<String> = []
        var nonceOrder: Deque<String> = []
        var depth: Int?
        var parent: String?
        /// This node's ancestors, root first.
        var path: [String] = []
    }

    /// This node's name.
    public let name: String
    let fleet: FleetFile
    let state: NIOLockedValueBox<State>

    /// Creates the directory of node `name` in `fleet`.
    public init(name: String, fleet: FleetFile) {
        self.name = name
        self.fleet = fleet
        let isRoot = name == fleet.ingest.name
        self.state = NIOLockedValueBox(
            State(
                slots: ChildSlots(fanout: fleet.fanout),
                coordinator: isRoot ? TreeCoordinator(root: name, fanout: fleet.fanout, members: Set(fleet.mirrors.map(\.name))) : nil,
                depth: isRoot ? 0 : nil
            )
        )
    }

    /// Decides on a join; returns the tree changes to announce too (at the root, when a joiner
    /// reports that its parent failed).
    public func decide(_ request: JoinRequest, now: Date = Date()) -> (Decision, [TreeChange]) {
        if let refusal = self.check(request, now: now) { return (refusal, []) }
        return self.place(request)
    }

    /// Checks version, proof, nonce time and replay; returns the refusal, if any.
    func check(_ request: JoinRequest, now: Date) -> Decision? {
        guard PeerProtocol.acceptedVersions.contains(request.version) else {
            return .refuse(
                code: 426,
                reason: "this node speaks Casty peer protocol versions \(PeerProtocol.acceptedVersions.lowerBound) to \(PeerProtocol.acceptedVersions.upperBound), not \(request.version)"
            )
        }
        guard request.hasValidProof(secret: self.fleet.secret) else {
            return .refuse(code: 403, reason: "the join's proof does not match this fleet's secret")
        }
        guard request.nonce.utf8.count <= PeerProtocol.maxNonceBytes else {
            return .refuse(code: 403, reason: "the join's nonce is longer than \(PeerProtocol.maxNonceBytes) bytes")
        }
        guard let time = request.nonceTime, abs(Int64(now.timeIntervalSince1970 * 1000) - time) <= Int64(PeerProtocol.maxClockSkewSeconds) * 1000 else {
            return .refuse(code: 403, reason: "the join's nonce is stale or its clock is more than \(PeerProtocol.maxClockSkewSeconds) s off")
        }
        return self.state.withLockedValue { state in
            guard state.nonces.insert(request.nonce).inserted else {
                return .refuse(code: 403, reason: "this join was already used (replayed nonce)")
            }
            state.nonceOrder.append(request.nonce)
            if state.nonceOrder.count > 100_000 { state.nonces.remove(state.nonceOrder.removeFirst()) }
            return nil
        }
    }

    private func place(_ request: JoinRequest) -> (Decision, [TreeChange]) {
        self.state.withLockedValue { state in

            guard let depth = state.depth else {
                return (.refuse(code: 503, reason: "node \(self.name) is not in the tree yet; join through the root"), [])
            }
            let path = state.path + [self.name]
            if request.observer { return (.accept(depth: depth + 1, path: path), []) }
            guard request.name != self.name, self.fleet.mirrors.contains(where: { $0.name == request.name }) else {
                return (.refuse(code: 403, reason: "'\(request.name)' is not a mirror of this fleet"), [])
            }
            // Never make a cycle: an ancestor joining here means this node's own place is stale.
            if state.path.contains(request.name) {
                return (.refuse(code: 409, reason: "'\(request.name)' is an ancestor of \(self.name); \(self.name) rejoins first"), [])
            }
            if var coordinator = state.coordinator {
                var changes: [TreeChange] = []
                if let lost = request.lost, coordinator.parent(of: request.name) == lost, lost != self.name {
                    let moves = coordinator.failed(lost)
                    changes.append(.evict(node: lost))
                    // The moved node must come; the failed node's children are rejoining already.
                    if let moved = moves.first, moved.node != request.name { changes.append(.relocate(node: moved.node)) }
                }
                let decision = coordinator.join(request.name)
                state.coordinator = coordinator
                switch decision {
                case .accept:
                    _ = state.slots.join(request.name)
                    return (.accept(depth: 1, path: path), changes)
                case .redirect(let target):
                    return (self.redirect(request, to: target), changes)
                case .refuse(let reason):
                    return (.refuse(code: 403, reason: reason), changes)
                }
            }
            switch state.slots.join(request.name) {
            case .accept: return (.accept(depth: depth + 1, path: path), [])
            case .redirect(let child): return (self.redirect(request, to: child), [])
            }
        }
    }

    /// A parent reports that its child's link died. Acted on only at the root, and only if the
    /// child is the reporter's child in the coordinator's tree.
    ///
    /// - Returns: the tree changes to announce, or the refusal (`.refuse`) to answer.
    public func childLost(_ report: LossReport, now: Date = Date()) -> Result<[TreeChange], Refusal> {
        if case .refuse(let code, let reason)? = self.check(report.asJoin, now: now) { return .failure(Refusal(code: code, reason: reason)) }
        guard self.isRoot else { return .failure(Refusal(code: 404, reason: "only the root takes loss reports")) }
        return .success(self.childLost(report.child, reporter: report.reporter))
    }

    /// At the root: `reporter`'s child `child` died. Returns the tree changes to announce.
    public func childLost(_ child: String, reporter: String) -> [TreeChange] {
        self.state.withLockedValue { state in
            guard var coordinator = state.coordinator, coordinator.parent(of: child) == reporter else { return [] }
            let moves = coordinator.failed(child)
            state.coordinator = coordinator
            return [.evict(node: child)] + moves.prefix(1).map { .relocate(node: $0.node) }
        }
    }

    /// A request refused, with its status code and reason.
    public struct Refusal: Error, Equatable, Sendable {
        public var code: Int
        public var reason: String

        public init(code: Int, reason: String) {
            self.code = code
            self.reason = reason
        }
    }

    /// Whether this node is the root.
    public var isRoot: Bool { self.name == self.fleet.ingest.name }

    /// The root's address, `http://host:port`.
    public var rootURL: String { "http://\(self.fleet.ingest.host):\(self.fleet.ingest.port)" }

    /// The fleet's secret, for signing reports.
    var secret: String { self.fleet.secret }

    private func redirect(_ request: JoinRequest, to name: String) -> Decision {
        guard let node = try? self.fleet.node(named: name) else {
            return .refuse(code: 500, reason: "no address for node \(name)")
        }
        return .redirect(url: "http://\(node.host):\(node.port)\(request.target)", to: name)
    }

    /// A child's link closed.
    public func childLeft(_ name: String) {
        self.state.withLockedValue { $0.slots.remove(name) }
    }

    /// Records this node's place once its parent accepted it.
    public func joined(parent: String, depth: Int, path: [String]) {
        self.state.withLockedValue { state in
            state.parent = parent
            state.depth = depth
            state.path = path
        }
    }

    /// This node's parent, depth and children, for the status report.
    public var place: (parent: String?, depth: Int?, children: [String]) {
        self.state.withLockedValue { ($0.parent, $0.depth, $0.slots.children) }
    }

    /// The whole tree as the root's coordinator sees it (name → parent), at the root only.
    public var tree: [String: String]? {
        self.state.withLockedValue { state in
            guard let coordinator = state.coordinator else { return nil }
            return Dictionary(uniqueKeysWithValues: coordinator.members.compactMap { name in coordinator.parent(of: name).map { (name, $0) } })
        }
    }
}
