/// The term rule of a fleet with a standby root, as a pure value: which root a node follows.
///
/// Every root carries a term number that grows with each takeover (the primary's first term is
/// 1). A node remembers the highest ``Claim`` it has seen and follows only that one: a claim of a
/// lower term is stale (its root is refused and told to follow the current one). Two roots of the
/// same term (a split) are ordered by a fixed tie-break: the fleet's primary ingest wins; between
/// two other names, the lower one in byte order. No I/O, no clock.
public struct TermRule: Sendable, Equatable {
    /// "Node `root` is the root, in term `term`."
    public struct Claim: Hashable, Sendable, CustomStringConvertible {
        /// The term number (1 for the primary's first term; 0 is never a root's).
        public var term: UInt64
        /// The root's name.
        public var root: String

        /// Creates a claim.
        public init(term: UInt64, root: String) {
            self.term = term
            self.root = root
        }

        public var description: String { "\(self.root) (term \(self.term))" }
    }

    /// What a claim is, against the one followed.
    public enum Verdict: Equatable, Sendable {
        /// It is the claim followed already.
        case current
        /// It outranks the one followed (or none was): it is followed from now on.
        case adopted(Claim)
        /// It is outranked: its root is stale and must be told to follow `follow`.
        case stale(follow: Claim)
    }

    /// The fleet's primary ingest, which wins a tie of terms.
    public let primary: String
    /// The highest claim seen, the one followed; `nil` before any.
    public private(set) var highest: Claim?

    /// A rule with no claim seen yet, in a fleet whose primary ingest is `primary`.
    public init(primary: String, highest: Claim? = nil) {
        self.primary = primary
        self.highest = highest
    }

    /// The highest term seen (0 before any).
    public var term: UInt64 { self.highest?.term ?? 0 }

    /// Whether `a` outranks `b`: a higher term, or the same term and the tie-break.
    public func outranks(_ a: Claim, _ b: Claim) -> Bool {
        if a.term != b.term { return a.term > b.term }
        if a.root == b.root { return false }
        if a.root == self.primary { return true }
        if b.root == self.primary { return false }
        return Array(a.root.utf8).lexicographicallyPrecedes(Array(b.root.utf8))
    }

    /// Takes a claim seen (a reply's `Casty-Term` and `Casty-Root`, a `term` frame, an ingest's
    /// answer), adopting it if it outranks the one followed.
    public mutating func observe(_ claim: Claim) -> Verdict {
        guard let highest = self.highest else {
            self.highest = claim
            return .adopted(claim)
        }
        if claim == highest { return .current }
        if self.outranks(claim, highest) {
            self.highest = claim
            return .adopted(claim)
        }
        return .stale(follow: highest)
    }
}
