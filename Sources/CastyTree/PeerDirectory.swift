import CastyPeerProtocol
import Foundation
import NIOConcurrencyHelpers

/// A node's ``JoinPolicy`` behind a lock, shared by its connections, and the fleet's addresses
/// (where a redirect sends a joiner). The policy decides; the peer-facing reply code turns its
/// decisions into HTTP answers.
public final class PeerDirectory: Sendable {
    /// This node's name.
    public let name: String
    private let current: NIOLockedValueBox<FleetFile>
    let policy: NIOLockedValueBox<JoinPolicy>
    /// At an ingest of a fleet with a standby: whether it is the root now, and its term.
    public let election: RootElection?
    /// At a mirror: the root claims it has seen (a fleet with a standby root).
    let terms: NIOLockedValueBox<TermRule>

    /// Creates the directory of node `name` in `fleet`; `election` at an ingest of a fleet with
    /// a standby root.
    public init(name: String, fleet: FleetFile, election: RootElection? = nil) {
        self.name = name
        self.current = NIOLockedValueBox(fleet)
        self.policy = NIOLockedValueBox(JoinPolicy(name: name, fleet: fleet))
        self.election = election
        self.terms = NIOLockedValueBox(TermRule(primary: fleet.ingest.name))
    }

    /// The root claim this node follows, which its replies name: an ingest's own role's, a
    /// mirror's highest seen; `nil` before any (and always in a fleet without a standby root).
    public var claim: TermRule.Claim? {
        if let election = self.election { return election.read(\.terms.highest) }
        return self.terms.withLockedValue { $0.highest }
    }

    /// The highest root term this node has seen (0 before any).
    public var term: UInt64 { self.claim?.term ?? 0 }

    /// A mirror's parent named the root claim it follows: adopted if it outranks the one
    /// followed; `.stale` if it does not (the link must end).
    public func observe(_ claim: TermRule.Claim) -> TermRule.Verdict {
        self.terms.withLockedValue { $0.observe(claim) }
    }

    /// The fleet file in use (the last one a reload accepted).
    public var fleet: FleetFile { self.current.withLockedValue { $0 } }

    /// What a reload did.
    public struct Reload: Sendable {
        /// What the new file changes.
        public var change: FleetChange
        /// At the root, the tree changes to announce (see ``JoinPolicy/apply(_:fleet:now:)``).
        public var treeChanges: [TreeChange]
        /// Whether this node is removed by the new file and starts draining.
        public var drains: Bool
    }

    /// Takes `new` as the fleet file if a running fleet can (see ``FleetChange/between(_:_:)``);
    /// throws, keeping the file in use, if not.
    public func reload(_ new: FleetFile, now: Date = Date()) throws(FleetFileError) -> Reload {
        let old = self.fleet
        let change = try FleetChange.between(old, new)
        let wasDraining = self.isDraining
        let changes = self.policy.withLockedValue { $0.apply(change, fleet: new, now: now) }
        self.current.withLockedValue { $0 = new }
        return Reload(change: change, treeChanges: changes, drains: !wasDraining && self.isDraining)
    }

    /// A tree change from the root reached this node (see ``JoinPolicy/treeChanged(_:)``);
    /// returns whether this node starts draining.
    public func treeChanged(_ change: TreeChange) -> Bool {
        self.policy.withLockedValue { $0.treeChanged(change) }
    }

    /// Whether this node was removed from the fleet and is draining.
    public var isDraining: Bool { self.policy.withLockedValue { $0.draining } }

    /// Decides on a join; returns the tree changes to announce too (at the root, when a joiner
    /// reports that its parent failed). The proof is checked outside the lock.
    public func decide(_ request: JoinRequest, now: Date = Date()) -> (JoinPolicy.Decision, [TreeChange]) {
        let secrets = self.policy.withLockedValue { $0.acceptedSecrets(at: now) }
        if let refusal = JoinPolicy.verify(request, secrets: secrets, now: now) { return (.refuse(refusal), []) }
        // An ingest of a fleet with a standby serves joins only while it is the root.
        let elected: Bool
        switch self.election?.join(term: request.term) {
        case nil: elected = false
        case .serve: elected = true
        case .redirect(let root, _): return (.redirect(to: root), [])
        case .unavailable: return (.refuse(.notInTree), [])
        }
        return self.policy.withLockedValue { policy in
            // Elected, but the takeover's actions have not made the policy the root yet: admitted
            // now, the joiner would get this node's place as a follower (one level too deep) and
            // be missing from the tree it is about to adopt. The joiner retries in a moment.
            if elected && !policy.isRoot { return (.refuse(.notInTree), []) }
            return policy.admit(request, now: now)
        }
    }

    /// This ingest becomes the root (a standby's takeover), its tree rebuilt from `tree`, the old
    /// root `oldRoot`'s last known one (see ``CastyTree/JoinPolicy/becomeRoot(adopting:from:now:)``).
    public func becomeRoot(adopting tree: [String: String] = [:], from oldRoot: String? = nil, now: Date = Date()) {
        self.policy.withLockedValue { $0.becomeRoot(adopting: tree, from: oldRoot, now: now) }
    }

    /// At the root: the tree another process of this root handed over (an upgrade).
    public func adoptTree(_ tree: [String: String]) {
        self.policy.withLockedValue { $0.adoptTree(tree) }
    }

    /// This ingest stops being the root (it stepped down).
    public func stepDown() {
        self.policy.withLockedValue { $0.stepDown() }
    }

    /// Where a redirect to node `name` sends `request`: the same join at that node's address;
    /// `nil` if the fleet file has no such node.
    public func redirectURL(for request: JoinRequest, to name: String) -> String? {
        guard let node = try? self.fleet.node(named: name) else { return nil }
        return "http://\(node.host):\(node.port)\(request.target)"
    }

    /// A parent reports that its child's link died. Acted on only at the root, and only if the
    /// child is the reporter's child in the coordinator's tree.
    ///
    /// - Returns: the tree changes to announce, or the refusal to answer.
    public func childLost(_ report: LossReport, now: Date = Date()) -> Result<[TreeChange], JoinPolicy.Refusal> {
        self.policy.withLockedValue { $0.childLost(report, now: now) }
    }

    /// At the root: `reporter`'s child `child` died. Returns the tree changes to announce.
    public func childLost(_ child: String, reporter: String, now: Date = Date()) -> [TreeChange] {
        self.policy.withLockedValue { $0.childLost(child, reporter: reporter, now: now) }
    }

    /// At the root: the tree's repair that is due (``JoinPolicy/repair(now:)``); the changes to
    /// announce.
    public func repair(now: Date = Date()) -> [TreeChange] {
        self.policy.withLockedValue { $0.repair(now: now) }
    }

    /// At the root: the mirrors to tell to rejoin because they say another parent than the tree's
    /// (``JoinPolicy/placesSaid(_:now:)``); the changes to announce.
    public func placesSaid(_ says: [String: String], now: Date = Date()) -> [TreeChange] {
        self.policy.withLockedValue { $0.placesSaid(says, now: now) }
    }

    /// Whether this node is the root.
    public var isRoot: Bool { self.policy.withLockedValue { $0.isRoot } }

    /// The root's address, `http://host:port`.
    public var rootURL: String { "http://\(self.fleet.ingest.host):\(self.fleet.ingest.port)" }

    /// The fleet's secret, for signing joins and reports: the current file's.
    public var secret: String { self.policy.withLockedValue { $0.signingSecret } }

    /// A child's link taken over from another process (a hand-over) holds its slot again.
    public func adoptChild(_ name: String) {
        self.policy.withLockedValue { $0.adoptChild(name) }
    }

    /// A child's link died without a leave (see ``JoinPolicy/childLinkDied(_:now:)``).
    public func childLinkDied(_ name: String, now: Date = Date()) {
        self.policy.withLockedValue { $0.childLinkDied(name, now: now) }
    }

    /// A mirror's children whose link died and that did not come back: to report to the root
    /// (see ``JoinPolicy/lostChildren(now:)``).
    public func lostChildren(now: Date = Date()) -> [String] {
        self.policy.withLockedValue { $0.lostChildren(now: now) }
    }

    /// A child's link closed: its slot is free.
    public func childLeft(_ name: String) {
        self.policy.withLockedValue { $0.childLeft(name) }
    }

    /// Records this node's place once its parent accepted it. Returns whether its depth or path
    /// changed.
    @discardableResult
    public func joined(parent: String, depth: Int, path: [String]) -> Bool {
        self.policy.withLockedValue { $0.joined(parent: parent, depth: depth, path: path) }
    }

    /// The parent told this node its new place (an ancestor moved).
    public func moved(depth: Int, path: [String]) -> JoinPolicy.PlaceUpdate {
        self.policy.withLockedValue { $0.moved(depth: depth, path: path) }
    }

    /// The place this node gives its children (depth and ancestors), once it has one.
    public var childPlace: (depth: Int, path: [String])? {
        self.policy.withLockedValue { $0.childPlace }
    }

    /// At the root: mirror `name` says it is shutting down. Returns the tree changes to
    /// announce, or the refusal to answer.
    public func left(_ notice: LeaveNotice, now: Date = Date()) -> Result<[TreeChange], JoinPolicy.Refusal> {
        self.policy.withLockedValue { $0.left(notice, now: now) }
    }

    /// This node's parent, depth and children, for the status report.
    public var place: (parent: String?, depth: Int?, children: [String]) {
        self.policy.withLockedValue { ($0.parent, $0.depth, $0.children) }
    }

    /// The whole tree as the root's coordinator sees it (name → parent), at the root only.
    public var tree: [String: String]? {
        self.policy.withLockedValue { $0.tree }
    }
}
