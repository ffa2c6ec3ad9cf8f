import Foundation

/// At the root: the mirrors the coordinator expects to join again after it changed the tree, and
/// since when. When a node fails, the mirror moved into its hole is told to rejoin (`relocate`),
/// and the failed node's children rejoin by themselves. After a mass failure either may never come:
/// the moved mirror may be dead too, or the `relocate` may not reach it while its own ancestors
/// are rejoining, and a dead orphan has no parent left to report it. So the root keeps this record:
///
/// - an expected mirror that has not rejoined is told to (`relocate`), every
///   ``reannounceInterval``: a moved one may have missed its `relocate`, and an orphan may still
///   hang on to a parent that was only late (declared failed, it rejoins, and keeps its children);
/// - a joiner sent to an expected mirror that comes back to the root within
///   ``unreachableWindow`` could not reach it (a live one would have taken it), once that mirror
///   has been silent for ``unreachableAfter`` (a live one that refused the joiner as its ancestor
///   rejoins the root at once, and is then no longer expected): that mirror is declared failed,
///   so that joiners are no longer sent to it;
/// - one that has given no sign of life for ``deadline`` (no join reached the root, not even a
///   refused one) is declared failed in its turn;
/// - a loss report about it from its former parent (the one it was attached to before the move)
///   is believed, since that is the parent that holds its link.
///
/// A pure value, with the time passed in.
public struct PendingRejoins: Sendable {
    /// Why a mirror is expected.
    public enum Reason: Equatable, Sendable {
        /// It was moved into a failed node's place, and told to rejoin.
        case moved
        /// Its parent failed; it rejoins by itself.
        case orphaned
        /// It was declared failed: if it lives (it was only late), its parent must drop it, and
        /// it rejoins as a new member.
        case evicted
    }

    private struct Entry: Sendable {
        var reason: Reason
        var formerParent: String?
        var lastSign: Date
        var announcedAt: Date
    }

    /// How long an expected mirror may give no sign of life before it is declared failed. Long
    /// enough for a live one whose own ancestors are rejoining to be reached again (after a mass
    /// failure that takes seconds), well within the 30 s of audio a parent keeps, so that even
    /// then nothing is lost.
    public static let deadline: TimeInterval = 10
    /// How often a moved mirror that has not rejoined is told again.
    public static let reannounceInterval: TimeInterval = 1

    /// How soon a joiner sent to an expected mirror must come back for that mirror to count as
    /// unreachable: the link's connect timeout (1 s) and its longest rejoin backoff (2 s).
    public static let unreachableWindow: TimeInterval = 3.5
    /// How long an expected mirror must have been silent before a joiner's coming back counts
    /// against it: far more than a live mirror takes to rejoin the root after refusing a joiner.
    public static let unreachableAfter: TimeInterval = 1

    private var entries: [String: Entry] = [:]
    /// The joiners sent to an expected mirror: to which, and when.
    private var sentTo: [String: (target: String, at: Date)] = [:]

    /// Creates an empty record.
    public init() {}

    /// The number of mirrors expected.
    public var count: Int { self.entries.count }

    /// Whether `node` is expected.
    public func isExpected(_ node: String) -> Bool { self.entries[node] != nil }

    /// The parent `node` was attached to before the change, if it is expected.
    public func formerParent(of node: String) -> String? { self.entries[node]?.formerParent }

    /// The coordinator changed the tree at `now`: `node` must join again.
    public mutating func expect(_ node: String, reason: Reason, formerParent: String?, now: Date) {
        self.entries[node] = Entry(reason: reason, formerParent: formerParent, lastSign: now, announcedAt: now)
    }

    /// A join from `node` reached the root at `now` but was not taken (the root was busy): it is
    /// alive and on its way.
    public mutating func heardFrom(_ node: String, now: Date) {
        self.entries[node]?.lastSign = now
    }

    /// `node` joined, or was declared failed: no longer expected.
    public mutating func forget(_ node: String) {
        self.entries[node] = nil
    }

    /// The root sent `joiner` to `target` at `now`; remembered when `target` is expected.
    public mutating func sent(_ joiner: String, to target: String, now: Date) {
        self.sentTo[joiner] = self.entries[target] == nil ? nil : (target, now)
    }

    /// `joiner` asks the root again at `now`: the expected mirror it was sent to shortly before,
    /// which it evidently could not reach, if that mirror has been silent for
    /// ``unreachableAfter``; `nil` if there is none.
    public mutating func cameBack(_ joiner: String, now: Date) -> String? {
        guard let (target, at) = self.sentTo.removeValue(forKey: joiner), let entry = self.entries[target],
            now.timeIntervalSince(at) < Self.unreachableWindow, now.timeIntervalSince(entry.lastSign) >= Self.unreachableAfter
        else { return nil }
        return target
    }

    /// What is due at `now`, in name order: the mirrors to declare failed (moved or orphaned, and
    /// silent past the deadline), the ones to tell again to rejoin, and the evicted ones whose
    /// eviction to announce again (each once per ``reannounceInterval``). An evicted mirror
    /// silent past the deadline is dead: it is forgotten.
    public mutating func due(now: Date) -> (failed: [String], relocate: [String], evict: [String]) {
        var failed: [String] = []
        var relocate: [String] = []
        var evict: [String] = []
        for (node, entry) in self.entries.sorted(by: { $0.key < $1.key }) {
            if now.timeIntervalSince(entry.lastSign) >= Self.deadline {
                self.entries[node] = nil
                if entry.reason != .evicted { failed.append(node) }
            } else if now.timeIntervalSince(entry.announcedAt) >= Self.reannounceInterval {
                self.entries[node]?.announcedAt = now
                if entry.reason == .evicted { evict.append(node) } else { relocate.append(node) }
            }
        }
        return (failed, relocate, evict)
    }
}
