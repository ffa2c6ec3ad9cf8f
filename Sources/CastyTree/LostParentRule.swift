/// Decides, when a mirror's link to its parent ends, whether its rejoin names that parent with
/// `lost` (which makes the root evict the parent and move its whole subtree).
///
/// - A link the parent ended on purpose (a `leave`, or this node was relocated): never.
/// - A link that failed (reset, silence, a refused connection after acceptance): always; a dead
///   or frozen parent must be replaced.
/// - A link that ended on a protocol error (a frame this node cannot decode): a parent that still
///   sends bytes is alive, and one bad frame may be a bug or a damaged byte, not a failure; evicting
///   it would scatter its whole subtree. So the first time the child rejoins without `lost`; if its
///   next link to the same parent ends with a protocol error again, that parent is named lost.
///
/// Pure state, one per link: the caller reports how each accepted link ended.
public struct LostParentRule: Equatable, Sendable {
    /// How an accepted link ended.
    public enum LinkEnd: Equatable, Sendable {
        /// The parent ended it on purpose (`leave`), or this node left to take a new place.
        case onPurpose
        /// Reset, silence or any other transport failure.
        case failed
        /// A frame this node could not decode.
        case protocolError
    }

    /// The parent whose last link ended with a protocol error, until another end is reported.
    public private(set) var suspect: String?

    /// Creates the rule with no suspect.
    public init() {}

    /// The link to `parent` (`nil`: the join was never accepted) ended as `end`. Returns the name
    /// to send as `lost` in the next join, if any.
    public mutating func linkEnded(parent: String?, end: LinkEnd) -> String? {
        // A join that was never accepted says nothing about any parent.
        guard let parent else { return nil }
        switch end {
        case .onPurpose:
            self.suspect = nil
            return nil
        case .failed:
            self.suspect = nil
            return parent
        case .protocolError:
            if self.suspect == parent {
                self.suspect = nil
                return parent
            }
            self.suspect = parent
            return nil
        }
    }
}
