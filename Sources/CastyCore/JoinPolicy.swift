import CastyPeerProtocol
import DequeModule
import Foundation

/// A node's rules for the joins and loss reports that reach it, as a pure value: checks a
/// joiner's version, proof, nonce and membership, and places it. At the root, the
/// ``TreeCoordinator`` decides where each mirror goes; at a mirror, its ``ChildSlots``.
///
/// It answers with decisions, not HTTP: the serving side maps a ``Refusal`` to its status code.
/// No lock and no clock: the caller serializes the calls and passes the time.
public struct JoinPolicy: Sendable {
    /// What to answer a join.
    public enum Decision: Equatable, Sendable {
        /// Accept as a child (or observer) at this depth; `path` is the joiner's ancestors.
        case accept(depth: Int, path: [String])
        /// Send the joiner on to the node called so (a `307` to its address).
        case redirect(to: String)
        /// Refuse the join.
        case refuse(Refusal)
    }

    /// Why a join or a loss report is refused.
    public enum Refusal: Error, Equatable, Sendable {
        /// The joiner speaks a protocol version this node does not.
        case unsupportedVersion(Int)
        /// The proof does not match the fleet's secret.
        case badProof
        /// The nonce is longer than ``PeerProtocol/maxNonceBytes``.
        case nonceTooLong
        /// The nonce's time is too far from this node's clock.
        case staleNonce
        /// The nonce was seen before.
        case replayedNonce
        /// This node has no place in the tree yet.
        case notInTree
        /// The joiner is not a mirror of the fleet (or is this node).
        case notAMirror(String)
        /// The joiner is an ancestor of this node: accepting would make a cycle, so this node's
        /// own place is stale and it must rejoin.
        case ancestor(String)
        /// The root's coordinator refused the joiner.
        case coordinator(reason: String)
        /// A loss report reached a node other than the root.
        case notRoot
    }

    /// This node's name.
    public let name: String
    /// Whether this node is the root (it runs the coordinator).
    public private(set) var isRoot: Bool
    private let secret: String
    private let mirrors: Set<String>
    private var slots: ChildSlots
    private var coordinator: TreeCoordinator?
    private var nonces: Set<String> = []
    private var nonceOrder: Deque<String> = []
    /// This node's depth, once it is in the tree (0 at the root).
    public private(set) var depth: Int?
    /// This node's parent, once it joined one.
    public private(set) var parent: String?
    /// This node's ancestors, root first.
    public private(set) var path: [String] = []

    /// The nonces a node remembers against replays.
    public static let rememberedNonces = 100_000

    /// The policy of node `name` in `fleet`.
    public init(name: String, fleet: FleetFile) {
        self.name = name
        self.secret = fleet.secret
        self.mirrors = Set(fleet.mirrors.map(\.name))
        self.isRoot = name == fleet.ingest.name
        self.slots = ChildSlots(fanout: fleet.fanout)
        self.coordinator = self.isRoot ? TreeCoordinator(root: name, fanout: fleet.fanout, members: self.mirrors) : nil
        self.depth = self.isRoot ? 0 : nil
    }

    // MARK: Joins

    /// Decides on a join: ``verify(_:secret:now:)``, then ``admit(_:)``.
    public mutating func decide(_ request: JoinRequest, now: Date) -> (Decision, [TreeChange]) {
        if let refusal = Self.verify(request, secret: self.secret, now: now) { return (.refuse(refusal), []) }
        return self.admit(request)
    }

    /// Checks version, proof and the nonce's length and time: what needs no state (and costs an
    /// HMAC, so a caller may run it outside its lock). Returns the refusal, if any.
    public static func verify(_ request: JoinRequest, secret: String, now: Date) -> Refusal? {
        guard PeerProtocol.acceptedVersions.contains(request.version) else { return .unsupportedVersion(request.version) }
        guard request.hasValidProof(secret: secret) else { return .badProof }
        guard request.nonce.utf8.count <= PeerProtocol.maxNonceBytes else { return .nonceTooLong }
        guard let time = request.nonceTime, abs(Int64(now.timeIntervalSince1970 * 1000) - time) <= Int64(PeerProtocol.maxClockSkewSeconds) * 1000 else {
            return .staleNonce
        }
        return nil
    }

    /// Decides on a verified join: refuses a replayed nonce, then places the joiner. Returns the
    /// tree changes to announce too (at the root, when the joiner reports that its parent failed).
    public mutating func admit(_ request: JoinRequest) -> (Decision, [TreeChange]) {
        guard self.remember(request.nonce) else { return (.refuse(.replayedNonce), []) }
        return self.place(request)
    }

    /// Records `nonce`; false if it was seen before.
    private mutating func remember(_ nonce: String) -> Bool {
        guard self.nonces.insert(nonce).inserted else { return false }
        self.nonceOrder.append(nonce)
        if self.nonceOrder.count > Self.rememberedNonces { self.nonces.remove(self.nonceOrder.removeFirst()) }
        return true
    }

    private mutating func place(_ request: JoinRequest) -> (Decision, [TreeChange]) {
        guard let depth = self.depth else { return (.refuse(.notInTree), []) }
        let path = self.path + [self.name]
        if request.observer { return (.accept(depth: depth + 1, path: path), []) }
        guard request.name != self.name, self.mirrors.contains(request.name) else {
            return (.refuse(.notAMirror(request.name)), [])
        }
        // Never make a cycle: an ancestor joining here means this node's own place is stale.
        if self.path.contains(request.name) { return (.refuse(.ancestor(request.name)), []) }
        if var coordinator = self.coordinator {
            var changes: [TreeChange] = []
            if let lost = request.lost, coordinator.parent(of: request.name) == lost, lost != self.name {
                let moves = coordinator.failed(lost)
                changes.append(.evict(node: lost))
                // The moved node must come; the failed node's children are rejoining already.
                if let moved = moves.first, moved.node != request.name { changes.append(.relocate(node: moved.node)) }
            }
            let decision = coordinator.join(request.name)
            self.coordinator = coordinator
            switch decision {
            case .accept:
                _ = self.slots.join(request.name)
                return (.accept(depth: 1, path: path), changes)
            case .redirect(let target):
                return (.redirect(to: target), changes)
            case .refuse(let reason):
                return (.refuse(.coordinator(reason: reason)), changes)
            }
        }
        switch self.slots.join(request.name) {
        case .accept: return (.accept(depth: depth + 1, path: path), [])
        case .redirect(let child): return (.redirect(to: child), [])
        }
    }

    // MARK: Losses and leaves

    /// A parent reports that its child's link died. Acted on only at the root, and only if the
    /// child is the reporter's child in the coordinator's tree.
    ///
    /// - Returns: the tree changes to announce, or the refusal.
    public mutating func childLost(_ report: LossReport, now: Date) -> Result<[TreeChange], Refusal> {
        let join = report.asJoin
        if let refusal = Self.verify(join, secret: self.secret, now: now) { return .failure(refusal) }
        guard self.remember(join.nonce) else { return .failure(.replayedNonce) }
        guard self.isRoot else { return .failure(.notRoot) }
        return .success(self.childLost(report.child, reporter: report.reporter))
    }

    /// At the root: `reporter`'s child `child` died. Returns the tree changes to announce.
    public mutating func childLost(_ child: String, reporter: String) -> [TreeChange] {
        guard var coordinator = self.coordinator, coordinator.parent(of: child) == reporter else { return [] }
        let moves = coordinator.failed(child)
        self.coordinator = coordinator
        return [.evict(node: child)] + moves.prefix(1).map { .relocate(node: $0.node) }
    }

    /// A child's link closed: its slot is free.
    public mutating func childLeft(_ name: String) {
        self.slots.remove(name)
    }

    /// Records this node's place once its parent accepted it.
    public mutating func joined(parent: String, depth: Int, path: [String]) {
        self.parent = parent
        self.depth = depth
        self.path = path
    }

    // MARK: Standby root

    /// This ingest becomes the root (a standby's takeover): a new coordinator, depth 0, no
    /// parent. The coordinator starts from `tree` (mirror → parent), the old root `oldRoot`'s last
    /// known tree, with this node in the old root's place: so the old root's children, which
    /// rejoin, get their old places back, and the mirrors below them, which do not rejoin, keep
    /// theirs. A mirror whose place cannot be rebuilt (a tree caught in the middle of a change)
    /// is left out; it is placed anew when it joins.
    public mutating func becomeRoot(adopting tree: [String: String] = [:], from oldRoot: String? = nil) {
        guard !self.isRoot else { return }
        self.isRoot = true
        var coordinator = TreeCoordinator(root: self.name, fanout: self.slots.fanout, members: self.mirrors)
        if let oldRoot { Self.adopt(tree, from: oldRoot, into: &coordinator) }
        self.coordinator = coordinator
        self.slots = ChildSlots(fanout: self.slots.fanout)
        (self.parent, self.depth, self.path) = (nil, 0, [])
    }

    /// Places the mirrors of `tree` in `coordinator` where they are, level by level: a complete
    /// tree in heap order, each node's children the fullest subtree first, is what joins in that
    /// order make; a node that would land under another parent than its own ends the adoption.
    static func adopt(_ tree: [String: String], from oldRoot: String, into coordinator: inout TreeCoordinator) {
        var children: [String: [String]] = [:]
        for (child, parent) in tree { children[parent, default: []].append(child) }
        var sizes: [String: Int] = [:]
        func size(_ node: String, _ depth: Int) -> Int {
            if let known = sizes[node] { return known }
            let total = depth > 64 ? 1 : 1 + (children[node] ?? []).reduce(0) { $0 + size($1, depth + 1) }
            sizes[node] = total
            return total
        }
        var queue: [String] = [oldRoot]
        var index = 0
        while index < queue.count {
            let parent = queue[index]
            index += 1
            let ordered = (children[parent] ?? []).sorted { (size($0, 0), $1) > (size($1, 0), $0) }
            for child in ordered where !coordinator.isPlaced(child) {
                let expected = parent == oldRoot ? coordinator.root : parent
                guard coordinator.allowed.contains(child) else { continue }
                _ = coordinator.join(child)
                guard coordinator.parent(of: child) == expected else {
                    _ = coordinator.failed(child)  // it was the last placed: nobody moves
                    return
                }
                queue.append(child)
            }
        }
    }

    /// This ingest stops being the root (a stale root stepping down): no coordinator, no place,
    /// no children, until it becomes root again.
    public mutating func stepDown() {
        guard self.isRoot else { return }
        self.isRoot = false
        self.coordinator = nil
        self.slots = ChildSlots(fanout: self.slots.fanout)
        (self.parent, self.depth, self.path) = (nil, nil, [])
    }

    // MARK: Queries

    /// This node's children, in slot order.
    public var children: [String] { self.slots.children }

    /// The whole tree as the root's coordinator sees it (name → parent), at the root only.
    public var tree: [String: String]? {
        guard let coordinator = self.coordinator else { return nil }
        return Dictionary(uniqueKeysWithValues: coordinator.members.compactMap { name in coordinator.parent(of: name).map { (name, $0) } })
    }
}

extension JoinPolicy.Refusal {
    /// The refusal in words, as the node answers it (the text after the status line).
    public func reason(node: String) -> String {
        switch self {
        case .unsupportedVersion(let version):
            "this node speaks Casty peer protocol versions \(PeerProtocol.acceptedVersions.lowerBound) to \(PeerProtocol.acceptedVersions.upperBound), not \(version)"
        case .badProof: "the join's proof does not match this fleet's secret"
        case .nonceTooLong: "the join's nonce is longer than \(PeerProtocol.maxNonceBytes) bytes"
        case .staleNonce: "the join's nonce is stale or its clock is more than \(PeerProtocol.maxClockSkewSeconds) s off"
        case .replayedNonce: "this join was already used (replayed nonce)"
        case .notInTree: "node \(node) is not in the tree yet; join through the root"
        case .notAMirror(let name): "'\(name)' is not a mirror of this fleet"
        case .ancestor(let name): "'\(name)' is an ancestor of \(node); \(node) rejoins first"
        case .coordinator(let reason): reason
        case .notRoot: "only the root takes loss reports"
        }
    }
}
