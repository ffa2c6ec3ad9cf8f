import Foundation

/// At the root: the mirrors whose own word on their place differs from the root's tree, and since
/// when. The root places a joiner by redirecting it to the parent its tree has for it, but that
/// parent takes the joiner only if it has a free slot in its own view; full, it sends the joiner
/// on to one of its children. After a mass failure a parent's own view can hold children the root
/// has already moved elsewhere (their links not yet closed), so the joiner lands deeper than the
/// root's tree says, and its subtree with it. Nothing else would ever tell the root.
///
/// So the root compares what every mirror says its parent is (its `/status.json`, which the root
/// reads once a second) with its tree. A mirror that is placed, not expected to rejoin, and says
/// another parent than the tree's for ``misplacedAfter`` is told to rejoin (`relocate`), and told
/// again every ``retellInterval`` while it stays misplaced; the root then sends it to its place.
/// Each such move frees a slot that another misplaced mirror's place needs, so the tree converges.
///
/// A pure value, with the time passed in.
public struct MisplacedMirrors: Sendable {
    /// How long a mirror must say another parent than the tree's before it is told to rejoin:
    /// three of the root's reads of its status, far longer than a rejoin takes.
    public static let misplacedAfter: TimeInterval = 3
    /// How often a mirror that stays misplaced is told again.
    public static let retellInterval: TimeInterval = 3

    private var since: [String: Date] = [:]
    private var told: [String: Date] = [:]

    /// Creates an empty record.
    public init() {}

    /// The mirrors to tell to rejoin at `now`, in name order.
    ///
    /// - Parameters:
    ///   - says: each mirror's parent as the mirror itself last said (mirrors that said nothing
    ///     lately, or that have no parent right now, are left out).
    ///   - tree: the root's tree, mirror to parent.
    ///   - settled: whether the root expects nothing of a mirror (it is not moving or rejoining).
    public mutating func due(says: [String: String], tree: [String: String], now: Date, settled: (String) -> Bool) -> [String] {
        var due: [String] = []
        for node in Set(self.since.keys).union(says.keys).sorted() {
            guard let said = says[node], let placed = tree[node], settled(node), said != placed else {
                self.since[node] = nil
                continue
            }
            let since = self.since[node] ?? now
            self.since[node] = since
            guard now.timeIntervalSince(since) >= Self.misplacedAfter else { continue }
            if let told = self.told[node], now.timeIntervalSince(told) < Self.retellInterval { continue }
            self.told[node] = now
            due.append(node)
        }
        self.told = self.told.filter { self.since[$0.key] != nil }
        return due
    }
}
