/// The root's plan of the whole fleet: keeps the tree of peers a complete `fanout`-ary tree of
/// minimum depth, in a heap layout. Position 0 is the root (the ingest); position `i > 0` has the
/// parent position `(i - 1) / fanout`. Positions stay compact (no holes), so for `n` placed
/// mirrors the deepest one is ``minimumDepth(mirrors:fanout:)`` levels below the root.
///
/// Pure state, no clock: the caller decides when a node has failed (its reports stopped, or its
/// parent saw it die) or left, and carries out the ``Move``s it gets back.
///
/// Every operation is O(1), except the depth queries, which are O(log n).
public struct TreeCoordinator: Sendable {
    /// What the root answers to a mirror that asks to join the tree.
    public enum Decision: Equatable, Sendable {
        /// The root takes the joiner as its own child.
        case accept
        /// The joiner should join this node, which will accept it.
        case redirect(to: String)
        /// The joiner may not join.
        case refuse(reason: String)
    }

    /// A change of parent that the fleet must carry out.
    public struct Move: Equatable, Sendable {
        /// The node that must switch parents.
        public var node: String
        /// The node it must join (possibly the root).
        public var newParent: String

        /// Creates a move of `node` under `newParent`.
        public init(node: String, newParent: String) {
            self.node = node
            self.newParent = newParent
        }
    }

    /// The root's name (the ingest).
    public let root: String
    /// The most children of a node.
    public let fanout: Int
    /// Every mirror allowed to join (the fleet file's mirrors; see ``allow(_:)`` and
    /// ``remove(_:)`` for a reloaded file).
    public private(set) var allowed: Set<String>
    /// The node at each position; `nodes[0]` is the root.
    private var nodes: [String]
    /// The position of each placed node, the root included.
    private var positions: [String: Int]

    /// Creates a tree holding only `root`; the names in `members` (the mirrors of the fleet file)
    /// may join, anyone else is refused. `fanout` must be at least 1.
    public init(root: String, fanout: Int, members: Set<String>) {
        precondition(fanout >= 1, "a tree needs a fanout of at least 1")
        self.root = root
        self.fanout = fanout
        self.allowed = members.subtracting([root])
        self.nodes = [root]
        self.positions = [root: 0]
    }

    // MARK: Joins and failures

    /// Answers a join from `name`. A mirror that is already placed gets its position's parent
    /// again; a new one takes the lowest free position, at the end of the heap. The answer is
    /// `.accept` when that parent is the root, `.redirect` to the parent otherwise.
    public mutating func join(_ name: String) -> Decision {
        guard name != self.root else { return .refuse(reason: "'\(name)' is the root of the tree") }
        guard self.allowed.contains(name) else { return .refuse(reason: "'\(name)' is not a mirror of this fleet") }
        let position: Int
        if let placed = self.positions[name] {
            position = placed
        } else {
            position = self.nodes.count
            self.nodes.append(name)
            self.positions[name] = position
        }
        let parent = self.parentPosition(of: position)
        return parent == 0 ? .accept : .redirect(to: self.nodes[parent])
    }

    /// `name` is gone. Frees its position and, to keep the heap compact, moves the node at the
    /// last position into the hole (unless `name` was the last). Returns the moves to carry out:
    /// first the moved node, which must switch to the hole's parent, then each of the gone node's
    /// children, which must rejoin under the moved node. Returns no moves for the root or a node
    /// that is not placed. If `name` joins again later, it is placed as a new mirror.
    public mutating func failed(_ name: String) -> [Move] {
        guard let hole = self.positions[name], hole != 0 else { return [] }
        self.positions[name] = nil
        let moved = self.nodes.removeLast()
        guard moved != name else { return [] }  // it was the last: nobody below it, nobody moves
        self.nodes[hole] = moved
        self.positions[moved] = hole
        var moves = [Move(node: moved, newParent: self.nodes[self.parentPosition(of: hole)])]
        // The last position has no children, so those of the hole are the gone node's orphans.
        for child in self.childPositions(of: hole) {
            moves.append(Move(node: self.nodes[child], newParent: moved))
        }
        return moves
    }

    /// `a` and `b` trade places (neither may be the root; both must be placed). The caller
    /// carries out the moves: each must rejoin under its new position's parent. The root uses it
    /// before a failure to keep a mirror that has no stream out of the failed node's place.
    public mutating func exchange(_ a: String, _ b: String) {
        guard let first = self.positions[a], let second = self.positions[b], first != 0, second != 0 else { return }
        self.nodes.swapAt(first, second)
        self.positions[a] = second
        self.positions[b] = first
    }

    /// `name` left cleanly; the same as ``failed(_:)``.
    public mutating func left(_ name: String) -> [Move] {
        self.failed(name)
    }

    // MARK: Membership

    /// The fleet file now names `names` too: they may join from now on.
    public mutating func allow(_ names: some Sequence<String>) {
        self.allowed.formUnion(names)
        self.allowed.remove(self.root)
    }

    /// The fleet file no longer names `name`: it may not join again, and if it is placed its
    /// position is freed as by ``failed(_:)``. Returns the same moves; the caller also moves
    /// the removed node's children, which (unlike after a failure) are still linked to it.
    public mutating func remove(_ name: String) -> [Move] {
        guard name != self.root else { return [] }
        self.allowed.remove(name)
        return self.failed(name)
    }

    // MARK: Queries

    /// The placed mirrors, in position order (the root not included).
    public var members: [String] { Array(self.nodes.dropFirst()) }

    /// The placed mirrors that have no children, in position order (the last levels of the heap).
    public var leaves: [String] {
        guard self.nodes.count > 1 else { return [] }
        return Array(self.nodes[((self.nodes.count - 2) / self.fanout + 1)...])
    }

    /// The number of placed mirrors (the root not included).
    public var count: Int { self.nodes.count - 1 }

    /// Whether `name` holds a position (the root always does).
    public func isPlaced(_ name: String) -> Bool { self.positions[name] != nil }

    /// The heap position of `name` (0 for the root), or `nil` if it is not placed.
    public func position(of name: String) -> Int? { self.positions[name] }

    /// The parent of `name`; `nil` for the root and for nodes that are not placed.
    public func parent(of name: String) -> String? {
        guard let position = self.positions[name], position != 0 else { return nil }
        return self.nodes[self.parentPosition(of: position)]
    }

    /// The parent `name` should have: the same as ``parent(of:)``.
    public func desiredParent(of name: String) -> String? { self.parent(of: name) }

    /// The children of `name`, in position order; empty for leaves and nodes that are not placed.
    public func children(of name: String) -> [String] {
        guard let position = self.positions[name] else { return [] }
        return self.childPositions(of: position).map { self.nodes[$0] }
    }

    /// The number of levels between `name` and the root (0 for the root), or `nil` if it is not
    /// placed.
    public func depth(of name: String) -> Int? {
        self.positions[name].map(self.depth(ofPosition:))
    }

    /// The depth of the deepest node (0 when only the root is placed).
    public var maxDepth: Int {
        // The last position is on the deepest level of a compact heap.
        self.depth(ofPosition: self.nodes.count - 1)
    }

    /// The depth of the shallowest tree with a root and `mirrors` nodes below it, each node having
    /// at most `fanout` children: the smallest `d` with `1 + fanout + … + fanout^d >= mirrors + 1`.
    /// With `fanout` 2, `ceil(log2(mirrors + 2)) - 1`; with `fanout` 1, a chain of depth `mirrors`.
    public static func minimumDepth(mirrors: Int, fanout: Int) -> Int {
        precondition(mirrors >= 0 && fanout >= 1, "minimumDepth needs mirrors >= 0 and fanout >= 1")
        if fanout == 1 { return mirrors }
        var depth = 0
        var capacity = 1  // the nodes a tree of this depth holds, the root included
        var level = 1  // the nodes on the deepest level
        while capacity - 1 < mirrors {
            let (next, overflow) = level.multipliedReportingOverflow(by: fanout)
            if overflow { return depth + 1 }  // the next level holds more than any Int
            level = next
            capacity += min(level, Int.max - capacity)
            depth += 1
        }
        return depth
    }

    // MARK: Heap arithmetic

    private func parentPosition(of position: Int) -> Int {
        (position - 1) / self.fanout
    }

    private func childPositions(of position: Int) -> Range<Int> {
        let (product, overflow) = position.multipliedReportingOverflow(by: self.fanout)
        guard !overflow, product < self.nodes.count - 1 else { return self.nodes.count..<self.nodes.count }
        let first = product + 1
        return first..<(first + min(self.fanout, self.nodes.count - first))
    }

    private func depth(ofPosition position: Int) -> Int {
        var position = position
        var depth = 0
        while position > 0 {
            position = self.parentPosition(of: position)
            depth += 1
        }
        return depth
    }
}
