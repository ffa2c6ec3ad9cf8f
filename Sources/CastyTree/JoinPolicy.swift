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
        /// A loss report or leave notice reached a node other than the root.
        case notRoot
        /// The root takes too many joins at once (a storm, after many mirrors failed together):
        /// a join would be admitted again after this many milliseconds.
        case busy(retryAfterMilliseconds: Int)
        /// This node was removed from the fleet file and is draining: it takes no new child.
        case draining
    }

    /// This node's name.
    public let name: String
    /// Whether this node is the root (it runs the coordinator).
    public private(set) var isRoot: Bool
    private var secrets: FleetSecrets
    private var mirrors: Set<String>
    private var slots: ChildSlots
    private var coordinator: TreeCoordinator?
    /// At the root: the pace at which mirrors' joins are admitted.
    private var admission: JoinAdmission?
    /// At the root: the mirrors expected to join again after a change of the tree.
    private var pending = PendingRejoins()
    private var misplaced = MisplacedMirrors()
    /// Children whose link died without a leave, and when (see ``childLinkDied(_:now:)``).
    private var deadLinks: [String: Date] = [:]

    /// How long a child whose link died without a leave has to come back before it is lost:
    /// longer than a child takes to rejoin the same parent after a passing fault.
    public static let childLossGrace: TimeInterval = 1.5
    private var nonces: Set<String> = []
    private var nonceOrder: Deque<String> = []
    /// This node's depth, once it is in the tree (0 at the root).
    public private(set) var depth: Int?
    /// This node's parent, once it joined one.
    public private(set) var parent: String?
    /// This node's ancestors, root first.
    public private(set) var path: [String] = []
    /// Whether this node was removed from the fleet and is draining (it refuses joins).
    public private(set) var draining = false

    /// The nonces a node remembers against replays.
    public static let rememberedNonces = 100_000

    /// The policy of node `name` in `fleet`.
    public init(name: String, fleet: FleetFile) {
        self.name = name
        self.secrets = FleetSecrets(current: fleet.secret)
        self.mirrors = Set(fleet.mirrors.map(\.name))
        self.isRoot = name == fleet.ingest.name
        self.slots = ChildSlots(fanout: fleet.fanout)
        self.coordinator = self.isRoot ? TreeCoordinator(root: name, fanout: fleet.fanout, members: self.mirrors) : nil
        self.admission = self.isRoot ? JoinAdmission.rootDefault : nil
        self.depth = self.isRoot ? 0 : nil
    }

    // MARK: Joins

    /// Decides on a join: ``verify(_:secret:now:)``, then ``admit(_:)``.
    public mutating func decide(_ request: JoinRequest, now: Date) -> (Decision, [TreeChange]) {
        if let refusal = Self.verify(request, secrets: self.secrets.accepted(at: now), now: now) { return (.refuse(refusal), []) }
        return self.admit(request, now: now)
    }

    /// Checks version, proof and the nonce's length and time: what needs no state (and costs an
    /// HMAC, so a caller may run it outside its lock). Returns the refusal, if any.
    public static func verify(_ request: JoinRequest, secret: String, now: Date) -> Refusal? {
        Self.verify(request, secrets: [secret], now: now)
    }

    /// ``verify(_:secret:now:)`` with any of `secrets` (the current one and those still in their
    /// grace period after a rotation, see ``acceptedSecrets(at:)``).
    public static func verify(_ request: JoinRequest, secrets: [String], now: Date) -> Refusal? {
        guard PeerProtocol.acceptedVersions.contains(request.version) else { return .unsupportedVersion(request.version) }
        guard secrets.contains(where: { request.hasValidProof(secret: $0) }) else { return .badProof }
        guard request.nonce.utf8.count <= PeerProtocol.maxNonceBytes else { return .nonceTooLong }
        guard let time = request.nonceTime, abs(Int64(now.timeIntervalSince1970 * 1000) - time) <= Int64(PeerProtocol.maxClockSkewSeconds) * 1000 else {
            return .staleNonce
        }
        return nil
    }

    /// Decides on a verified join arriving at `now`: at the root, refuses a mirror's join beyond
    /// the pace of its ``JoinAdmission`` (``Refusal/busy(retryAfterMilliseconds:)``); refuses a
    /// replayed nonce, then places the joiner. Returns the tree changes to announce too (at the
    /// root, when the joiner reports that its parent failed).
    public mutating func admit(_ request: JoinRequest, now: Date) -> (Decision, [TreeChange]) {
        if !request.observer, case .retry(let seconds) = self.admission?.admit(at: now.timeIntervalSince1970) {
            self.pending.heardFrom(request.name, now: now)
            return (.refuse(.busy(retryAfterMilliseconds: max(1, Int((seconds * 1000).rounded(.up))))), [])
        }
        guard self.remember(request.nonce) else { return (.refuse(.replayedNonce), []) }
        return self.place(request, now: now)
    }

    /// Records `nonce`; false if it was seen before.
    private mutating func remember(_ nonce: String) -> Bool {
        guard self.nonces.insert(nonce).inserted else { return false }
        self.nonceOrder.append(nonce)
        if self.nonceOrder.count > Self.rememberedNonces { self.nonces.remove(self.nonceOrder.removeFirst()) }
        return true
    }

    private mutating func place(_ request: JoinRequest, now: Date) -> (Decision, [TreeChange]) {
        guard !self.draining else { return (.refuse(.draining), []) }
        guard let depth = self.depth else { return (.refuse(.notInTree), []) }
        let path = self.path + [self.name]
        if request.observer { return (.accept(depth: depth + 1, path: path), []) }
        guard request.name != self.name, self.mirrors.contains(request.name) else {
            return (.refuse(.notAMirror(request.name)), [])
        }
        // Never make a cycle: an ancestor joining here means this node's own place is stale.
        if self.path.contains(request.name) { return (.refuse(.ancestor(request.name)), []) }
        if self.coordinator != nil {
            var changes: [TreeChange] = []
            // A joiner that reports its parent lost, or that comes back soon after being sent to a
            // mirror the root still expects (it could not reach it): that parent failed.
            let lost = request.lost ?? self.pending.cameBack(request.name, now: now)
            if let lost, self.coordinator?.parent(of: request.name) == lost, lost != self.name {
                // The joiner itself may be the mirror moved into the hole: it is joining already.
                changes = self.fail(lost, now: now).filter { $0 != .relocate(node: request.name) }
            }
            let decision = self.coordinator!.join(request.name)
            self.pending.forget(request.name)
            if case .redirect(let target) = decision { self.pending.sent(request.name, to: target, now: now) }
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
        if let refusal = Self.verify(join, secrets: self.secrets.accepted(at: now), now: now) { return .failure(refusal) }
        guard self.remember(join.nonce) else { return .failure(.replayedNonce) }
        guard self.isRoot else { return .failure(.notRoot) }
        return .success(self.childLost(report.child, reporter: report.reporter, now: now))
    }

    /// At the root: `reporter`'s child `child` died. Believed when `reporter` is `child`'s parent in
    /// the coordinator's tree, or the parent it had before the coordinator moved it (which still
    /// holds its link until it rejoins). Returns the tree changes to announce.
    public mutating func childLost(_ child: String, reporter: String, now: Date) -> [TreeChange] {
        guard let coordinator = self.coordinator, coordinator.isPlaced(child) else { return [] }
        guard coordinator.parent(of: child) == reporter || self.pending.formerParent(of: child) == reporter else { return [] }
        return self.fail(child, now: now)
    }

    /// At the root: what each mirror says its parent is (its `/status.json`, read by the root),
    /// against the tree. A mirror that is placed, not expected to rejoin, and says another parent
    /// for ``MisplacedMirrors/misplacedAfter`` is told to rejoin (``MisplacedMirrors``). Nothing
    /// when this node is not the root.
    public mutating func placesSaid(_ says: [String: String], now: Date) -> [TreeChange] {
        guard !self.draining, let tree = self.tree, self.coordinator != nil else { return [] }
        let pending = self.pending
        return self.misplaced.due(says: says, tree: tree, now: now) { !pending.isExpected($0) }
            .map { TreeChange.relocate(node: $0) }
    }

    /// At the root: what is due at `now` in the tree's repair (call it a few times a second): its
    /// own children lost (``lostChildren(now:)``) are declared failed; a mirror expected after a change that has not rejoined is told to (`relocate`), once a
    /// second, and one that gave no sign of life for ``PendingRejoins/deadline`` is declared
    /// failed; a mirror declared failed is evicted again once a second until it rejoins (if it
    /// lives) or the deadline passes.
    /// Returns the tree changes to announce.
    public mutating func repair(now: Date) -> [TreeChange] {
        guard self.coordinator != nil else { return [] }
        // The root's own children that died: it is their reporter.
        var changes = self.lostChildren(now: now).flatMap { self.childLost($0, reporter: self.name, now: now) }
        let due = self.pending.due(now: now)
        changes += due.evict.map { TreeChange.evict(node: $0) } + due.relocate.map { TreeChange.relocate(node: $0) }
        for node in due.failed where self.coordinator?.isPlaced(node) == true {
            changes += self.fail(node, now: now)
        }
        return changes
    }

    /// The mirrors the root expects to rejoin after a change of the tree.
    public var expectedRejoins: Int { self.pending.count }

    /// At the root: `node` failed. The coordinator frees its place and moves the last mirror into
    /// it; that mirror is told to rejoin (`relocate`) and, with the failed node's children, is
    /// expected. Returns the tree changes to announce.
    ///
    /// The failed node's children resume from the moved mirror's ring, so it must be one that has
    /// a stream. When the last mirror is itself still expected (moved or orphaned by an earlier
    /// change and not rejoined: it has no segments to give), it first trades places with the last
    /// leaf that is not expected and not a child of the failed node; that leaf fills the hole, and
    /// the expected mirror, rejoining anyway, is told where its new place is.
    private mutating func fail(_ node: String, now: Date) -> [TreeChange] {
        guard var coordinator = self.coordinator else { return [] }
        var stranded: (node: String, formerParent: String?)?
        if let last = coordinator.members.last, last != node, self.pending.isExpected(last), !coordinator.children(of: node).isEmpty {
            let orphans = Set(coordinator.children(of: node))
            let donor = coordinator.leaves.last { $0 != last && !orphans.contains($0) && !self.pending.isExpected($0) }
            if let donor {
                stranded = (last, coordinator.parent(of: last))
                coordinator.exchange(last, donor)
            }
        }
        // Where the mirror that fills the hole has its link now: its parent before this change
        // (`self.coordinator` is still the tree before it).
        let movedFormerParent = coordinator.members.last.flatMap { self.coordinator?.parent(of: $0) }
        let moves = coordinator.failed(node)
        self.coordinator = coordinator
        // Should it live (only late), its eviction is announced again until it rejoins.
        self.pending.expect(node, reason: .evicted, formerParent: nil, now: now)
        var changes: [TreeChange] = [.evict(node: node)]
        if let moved = moves.first {
            // The moved node must come; the failed node's children are rejoining already.
            changes.append(.relocate(node: moved.node))
            self.pending.expect(moved.node, reason: .moved, formerParent: movedFormerParent, now: now)
        }
        for orphan in moves.dropFirst() {
            self.pending.expect(orphan.node, reason: .orphaned, formerParent: node, now: now)
        }
        if let stranded, coordinator.parent(of: stranded.node) != stranded.formerParent {
            // Its link, if it still has one, is to its parent before the trade.
            if !changes.contains(.relocate(node: stranded.node)) { changes.append(.relocate(node: stranded.node)) }
            self.pending.expect(stranded.node, reason: .moved, formerParent: stranded.formerParent, now: now)
        }
        return changes
    }

    /// At the root: a mirror says it is shutting down (a signed ``LeaveNotice``). Its place is
    /// freed as for a failure (its parent drops it, the last mirror moves into the hole), so that
    /// no joiner is sent to it any more. A mirror that holds no place changes nothing.
    ///
    /// - Returns: the tree changes to announce, or the refusal.
    public mutating func left(_ notice: LeaveNotice, now: Date) -> Result<[TreeChange], Refusal> {
        let join = notice.asJoin
        if let refusal = Self.verify(join, secrets: self.secrets.accepted(at: now), now: now) { return .failure(refusal) }
        guard self.remember(join.nonce) else { return .failure(.replayedNonce) }
        guard let coordinator = self.coordinator else { return .failure(.notRoot) }
        guard coordinator.isPlaced(notice.name), notice.name != self.name else { return .success([]) }
        let changes = self.fail(notice.name, now: now)
        self.pending.forget(notice.name)  // gone on purpose: no eviction to repeat
        return .success(changes)
    }

    /// A child's link taken over from another process (a hand-over) holds a slot again.
    public mutating func adoptChild(_ name: String) {
        _ = self.slots.join(name)
    }

    /// A child's link closed: its slot is free.
    public mutating func childLeft(_ name: String) {
        self.slots.remove(name)
    }

    /// A child's link died without a leave at `now`: its slot is free at once, and if it is not
    /// back within ``childLossGrace`` it is lost (``lostChildren(now:)``). A draining node's
    /// children leave on purpose: none of them is lost.
    public mutating func childLinkDied(_ name: String, now: Date) {
        self.slots.remove(name)
        guard !self.draining else { return }
        self.deadLinks[name] = now
    }

    /// The children whose link died more than ``childLossGrace`` before `now` and that did not
    /// come back, in name order; each is named once. The root acts on them in its
    /// ``repair(now:)``; a mirror reports them to the root.
    public mutating func lostChildren(now: Date) -> [String] {
        if self.draining { self.deadLinks = [:] }
        var lost: [String] = []
        for (name, died) in self.deadLinks.sorted(by: { $0.key < $1.key }) where now.timeIntervalSince(died) >= Self.childLossGrace {
            self.deadLinks[name] = nil
            if !self.slots.children.contains(name) { lost.append(name) }
        }
        return lost
    }

    /// Records this node's place once its parent accepted it. Returns whether its depth or path
    /// changed (its children must then hear their new places).
    @discardableResult
    public mutating func joined(parent: String, depth: Int, path: [String]) -> Bool {
        guard !self.isRoot else { return false }  // a late acceptance from a link a new root ended
        let changed = self.depth != depth || self.path != path
        self.parent = parent
        self.depth = depth
        self.path = path
        return changed
    }

    /// What a `place` frame from the parent does to this node's place.
    public enum PlaceUpdate: Equatable, Sendable {
        /// Nothing changed, or the frame does not come from this node's parent: ignored.
        case unchanged
        /// Depth and path changed: this node's children must hear their new places.
        case changed
        /// The new path names this node: its place is stale (a cycle); it must rejoin.
        case stale
    }

    /// The parent says that this node's place is now `depth` and `path` (an ancestor moved). The
    /// parent stays the same: a path that does not end with it is ignored.
    public mutating func moved(depth: Int, path: [String]) -> PlaceUpdate {
        guard !self.isRoot, let parent = self.parent, path.last == parent, depth == path.count else { return .unchanged }
        guard !path.contains(self.name) else { return .stale }
        guard self.depth != depth || self.path != path else { return .unchanged }
        self.depth = depth
        self.path = path
        return .changed
    }

    /// The place this node gives its children: its depth + 1, and its path followed by itself;
    /// `nil` while it has no place.
    public var childPlace: (depth: Int, path: [String])? {
        self.depth.map { ($0 + 1, self.path + [self.name]) }
    }

    // MARK: A reloaded fleet file

    /// The fleet file was reloaded and `change` is what it changes (see ``FleetChange``); `fleet`
    /// is the new file. Added mirrors may join from now on; removed ones are refused, and the
    /// slot of one that is this node's child is freed (its link stays, to feed its players while
    /// it drains); this node drains if it is removed itself; a rotated secret stays accepted
    /// for the file's grace time.
    ///
    /// - Returns: at the root, the tree changes to announce: for each removed mirror,
    ///   `drain` of it, then `relocate` of each node the coordinator moves (the one moved into
    ///   its place and its children, which are still linked to it and must rejoin). Elsewhere,
    ///   none.
    public mutating func apply(_ change: FleetChange, fleet: FleetFile, now: Date) -> [TreeChange] {
        self.mirrors = Set(fleet.mirrors.map(\.name))
        if change.retiredSecret != nil {
            self.secrets.rotate(to: fleet.secret, now: now, grace: TimeInterval(fleet.secretGraceTime))
        }
        var changes: [TreeChange] = []
        if var coordinator = self.coordinator {
            coordinator.allow(change.added.map(\.name))
            for removed in change.removed {
                let moves = coordinator.remove(removed.name)
                changes.append(.drain(node: removed.name))
                changes.append(contentsOf: moves.map { .relocate(node: $0.node) })
                // Told again by the repair until they rejoin.
                self.pending.forget(removed.name)
                for move in moves { self.pending.expect(move.node, reason: .moved, formerParent: nil, now: now) }
            }
            self.coordinator = coordinator
        }
        for removed in change.removed {
            _ = self.treeChanged(.drain(node: removed.name))
        }
        return changes
    }

    /// A tree change from the root reached this node. A `drain` of a child frees its slot (the
    /// link stays); a `drain` of this node makes it drain. Returns whether this node started
    /// draining.
    public mutating func treeChanged(_ change: TreeChange) -> Bool {
        guard case .drain(let node) = change else { return false }
        self.mirrors.remove(node)
        self.slots.remove(node)
        guard node == self.name, !self.isRoot, !self.draining else { return false }
        self.draining = true
        return true
    }

    /// The secrets accepted at `now`: the fleet file's, then those a reload replaced, until their
    /// grace time ends.
    public func acceptedSecrets(at now: Date) -> [String] { self.secrets.accepted(at: now) }

    /// The secret this node signs its joins and reports with: the fleet file's current one.
    public var signingSecret: String { self.secrets.current }

    // MARK: Standby root

    /// This ingest becomes the root (a standby's takeover): a new coordinator, depth 0, no
    /// parent. The coordinator starts from `tree` (mirror → parent), the old root `oldRoot`'s last
    /// known tree, with this node in the old root's place: so the old root's children, which
    /// rejoin, get their old places back, and the mirrors below them, which do not rejoin, keep
    /// theirs. A mirror whose place cannot be rebuilt (a tree caught in the middle of a change)
    /// is left out; it is placed anew when it joins.
    ///
    /// The old root's children are expected (``PendingRejoins``) from `now`: one that does not
    /// rejoin is told again, then declared failed by the repair, as after any change of the tree.
    public mutating func becomeRoot(adopting tree: [String: String] = [:], from oldRoot: String? = nil, now: Date = Date()) {
        guard !self.isRoot else { return }
        self.isRoot = true
        var coordinator = TreeCoordinator(root: self.name, fanout: self.slots.fanout, members: self.mirrors)
        if let oldRoot { Self.adopt(tree, from: oldRoot, into: &coordinator) }
        self.coordinator = coordinator
        self.admission = JoinAdmission.rootDefault
        self.pending = PendingRejoins()
        for (child, parent) in tree where parent == oldRoot && coordinator.parent(of: child) == self.name {
            self.pending.expect(child, reason: .orphaned, formerParent: nil, now: now)
        }
        self.slots = ChildSlots(fanout: self.slots.fanout)
        (self.parent, self.depth, self.path) = (nil, 0, [])
    }

    /// At the root: takes the tree another process of this root handed over (an upgrade), so
    /// that the mirrors stay where they are.
    public mutating func adoptTree(_ tree: [String: String]) {
        guard self.isRoot, self.coordinator != nil else { return }
        var coordinator = TreeCoordinator(root: self.name, fanout: self.slots.fanout, members: self.mirrors)
        Self.adopt(tree, from: self.name, into: &coordinator)
        self.coordinator = coordinator
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
        self.admission = nil
        self.pending = PendingRejoins()
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
        case .notRoot: "only the root takes loss reports and leave notices"
        case .busy(let milliseconds): "the root \(node) is taking too many joins at once; retry in \(milliseconds) ms"
        case .draining: "node \(node) was removed from the fleet and is draining; join through the root"
        }
    }
}
