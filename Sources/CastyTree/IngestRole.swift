/// The role of one of a fleet's two ingests (the primary and the standby), as a pure state
/// machine: whether it is the root or follows the other one, when a follower takes over, and
/// when a root steps down. It returns ``Action``s; the caller does the I/O (probes the other
/// ingest, runs the link to the root, numbers segments) and passes the time.
///
/// - At start an ingest asks the other one what it is (``start()`` then ``probed(_:now:)``). It
///   follows a root that answers; if none does, the primary becomes root in term 1 (or one above
///   the highest term it knows), and the standby waits: it never takes over a root it has not
///   followed.
/// - A follower takes over when its root is dead (the link failed) or silent (no frame for
///   ``Timing/silence``) and ``Timing/grace`` more passes without a frame: it becomes root in
///   the next term and numbers from the segment after the last one it received.
/// - A root steps down when the other ingest answers a probe with a claim that outranks its own
///   (``TermRule``). A join that carries a higher term than the root's is not believed by itself
///   (a join's proof does not cover the term): the root asks the other ingest first
///   (``Action/verify(_:)``), and if that one is not a root above it, raises its own term above
///   the one it heard, so that nodes that heard it can follow it again.
public struct IngestRole: Sendable {
    /// How long a silent or dead root is waited for.
    public struct Timing: Sendable, Equatable {
        /// No frame for this long: the root is silent (the peer protocol's 800 ms).
        public var silence: Duration
        /// After the link failed or the root fell silent, how long more before taking over.
        public var grace: Duration

        /// Creates a timing.
        public init(silence: Duration = .milliseconds(800), grace: Duration = .milliseconds(500)) {
            self.silence = silence
            self.grace = grace
        }
    }

    /// Where the ingest stands.
    public enum State: Equatable, Sendable {
        /// Started; has not found a root to follow, and is not the root.
        case starting
        /// Follows the root of `claim` as a peer (joined or joining).
        case following(TermRule.Claim)
        /// Follows the root of `claim`, whose link failed or fell silent at `since`.
        case suspecting(TermRule.Claim, since: ContinuousClock.Instant)
        /// Is the root, in `term`.
        case root(term: UInt64)
    }

    /// What the other ingest answered when asked what it is.
    public enum Answer: Equatable, Sendable {
        /// It is the root: its claim.
        case root(TermRule.Claim)
        /// It is not the root; it follows `of` (`nil`: nobody yet).
        case follower(of: TermRule.Claim?)
        /// It did not answer.
        case unreachable
    }

    /// What the caller must do.
    public enum Action: Equatable, Sendable {
        /// Nothing.
        case none
        /// Run the link to `claim`'s root (ending any other link), and serve no joins.
        case follow(TermRule.Claim)
        /// Become the root in `term`: end the link, serve joins, number the next segment
        /// `nextSeq` (the one after the last received, in the same stream) or, when `nil`, start a
        /// new stream; splice the own radio's bytes onto what the old root sent.
        case becomeRoot(term: UInt64, nextSeq: UInt64?)
        /// Stop being the root: send `leave` to every child, serve no joins, and follow `follow`.
        case stepDown(follow: TermRule.Claim)
        /// Stay the root, in the higher term `UInt64` (announce it down the tree).
        case raiseTerm(UInt64)
        /// Ask the node called so what it is, and pass its answer to ``probed(_:now:)``.
        case verify(String)
    }

    /// What to answer a mirror's join.
    public enum JoinAnswer: Equatable, Sendable {
        /// Serve it (the usual join rules apply); the reply says `Casty-Term: term`.
        case serve(term: UInt64)
        /// `307` to the root of `claim`.
        case redirect(to: String, claim: TermRule.Claim)
        /// `503`: no root known here (`claim` `nil`), this ingest suspects the root it follows
        /// (`claim` that root's), or this root is older than the joiner's term and is checking
        /// (`claim` this root's own).
        case unavailable(claim: TermRule.Claim?)
    }

    /// This ingest's name.
    public let name: String
    /// The other ingest's name.
    public let other: String
    /// Whether this ingest is the fleet's primary (the file's `ingest`).
    public let isPrimary: Bool
    /// The timing.
    public let timing: Timing
    /// Where it stands.
    public private(set) var state: State = .starting
    /// The claims it has seen.
    public private(set) var terms: TermRule
    /// The number of the next segment it expects from its root (or numbers, as root).
    public private(set) var nextSeq: UInt64?
    /// Whether a root ever accepted this ingest as a follower.
    public private(set) var hasFollowed = false
    private var lastFrame: ContinuousClock.Instant?
    /// The highest term heard in joins and not checked yet.
    private var pendingTerm: UInt64?
    /// The last tick, to notice a freeze of this process.
    private var lastTick: ContinuousClock.Instant?
    /// A root that was frozen doubts it still is one: it takes no join until the other ingest
    /// has answered.
    public private(set) var doubting = false

    /// The role of ingest `name` in a fleet whose primary is `primary` and standby `standby`.
    public init(name: String, primary: String, standby: String, timing: Timing = Timing()) {
        precondition(name == primary || name == standby, "an ingest role is the primary's or the standby's")
        self.name = name
        self.other = name == primary ? standby : primary
        self.isPrimary = name == primary
        self.timing = timing
        self.terms = TermRule(primary: primary)
    }

    /// Whether this ingest is the root now.
    public var isRoot: Bool {
        if case .root = self.state { return true }
        return false
    }

    /// What this ingest answers when asked what it is.
    public var answer: Answer {
        switch self.state {
        case .root(let term): .root(TermRule.Claim(term: term, root: self.name))
        case .following(let claim), .suspecting(let claim, _): .follower(of: claim)
        case .starting: .follower(of: nil)
        }
    }

    // MARK: Events

    /// The ingest starts: ask the other one what it is.
    public func start() -> Action {
        .verify(self.other)
    }

    /// The other ingest answered (to ``start()``, to a ``Action/verify(_:)``, or to the
    /// caller's periodic probe, about once a second).
    public mutating func probed(_ answer: Answer, now: ContinuousClock.Instant) -> Action {
        switch self.state {
        case .starting:
            switch answer {
            case .root(let claim):
                return self.follow(claim, now: now)
            case .follower(of: let claim?) where claim.root == self.name:
                // The other followed this ingest before it restarted: it takes over soon.
                return .none
            case .follower, .unreachable:
                guard self.isPrimary else { return .none }  // a standby waits for a root to follow
                return self.becomeRoot(nextSeq: nil)
            }
        case .following(let current), .suspecting(let current, _):
            guard case .root(let claim) = answer, claim != current, self.terms.outranks(claim, current) else { return .none }
            return self.follow(claim, now: now)
        case .root(let term):
            let own = TermRule.Claim(term: term, root: self.name)
            self.doubting = false
            if case .root(let claim) = answer, self.terms.outranks(claim, own) {
                self.pendingTerm = nil
                _ = self.terms.observe(claim)
                self.state = .following(claim)
                self.lastFrame = now
                return .stepDown(follow: claim)
            }
            guard let heard = self.pendingTerm else { return .none }
            self.pendingTerm = nil
            guard heard >= term else { return .none }
            // Nobody above this root answers for the term heard: stay root, above it.
            let raised = heard + 1
            self.state = .root(term: raised)
            _ = self.terms.observe(TermRule.Claim(term: raised, root: self.name))
            return .raiseTerm(raised)
        }
    }

    /// The link to the root was accepted: its reply's claim, and the next segment it sends.
    public mutating func linkAccepted(_ claim: TermRule.Claim, nextSeq: UInt64?, now: ContinuousClock.Instant) -> Action {
        guard !self.isRoot else { return .none }
        if case .stale(let follow) = self.terms.observe(claim) {
            return self.follow(follow, now: now)  // a stale root: follow the current one
        }
        self.state = .following(claim)
        self.lastFrame = now
        self.hasFollowed = true
        if let nextSeq { self.nextSeq = nextSeq }
        return .none
    }

    /// A frame from the root: segment `seq`, or a heartbeat (`nil`), which arrived at `now` (a
    /// frame told late, after a later one, does not move the silence clock back).
    public mutating func received(seq: UInt64?, now: ContinuousClock.Instant) {
        switch self.state {
        case .following(let claim), .suspecting(let claim, _):
            self.lastFrame = max(self.lastFrame ?? now, now)
            if let seq { self.nextSeq = max(self.nextSeq ?? 0, seq + 1) }
            self.state = .following(claim)
        case .starting, .root:
            break
        }
    }

    /// The link to the root failed (reset, refused, or silent).
    public mutating func linkDown(now: ContinuousClock.Instant) {
        if case .following(let claim) = self.state {
            self.state = .suspecting(claim, since: now)
        }
    }

    /// Time passes; call it every 100 ms or so. A root whose ticks stopped for the silence
    /// timeout or more (this process was frozen: its children have left it, and the other ingest
    /// may have taken over) doubts it is still root: it takes no join and asks the other ingest.
    public mutating func tick(now: ContinuousClock.Instant) -> Action {
        defer { self.lastTick = now }
        if self.isRoot, let last = self.lastTick, now - last >= self.timing.silence {
            self.doubting = true
            return .verify(self.other)
        }
        if case .following(let claim) = self.state, let last = self.lastFrame, now - last >= self.timing.silence {
            self.state = .suspecting(claim, since: last + self.timing.silence)
        }
        guard case .suspecting(_, let since) = self.state, self.hasFollowed, now - since >= self.timing.grace else {
            return .none
        }
        return self.becomeRoot(nextSeq: self.nextSeq)
    }

    /// A mirror's join arrived, carrying the highest term it has seen (`nil`: it sent none).
    /// Returns the answer, and what to do besides (check a higher term heard).
    public mutating func join(term: UInt64?) -> (JoinAnswer, Action) {
        switch self.state {
        case .root(let own):
            if self.doubting { return (.unavailable(claim: TermRule.Claim(term: own, root: self.name)), .none) }
            guard let term, term > own else { return (.serve(term: own), .none) }
            let first = self.pendingTerm == nil
            self.pendingTerm = max(self.pendingTerm ?? 0, term)
            return (.unavailable(claim: TermRule.Claim(term: own, root: self.name)), first ? .verify(self.other) : .none)
        case .following(let claim):
            return (.redirect(to: claim.root, claim: claim), .none)
        case .suspecting(let claim, _):
            // Its root may be gone: the joiner retries here, where a root may be soon.
            return (.unavailable(claim: claim), .none)
        case .starting:
            return (.unavailable(claim: nil), .none)
        }
    }

    // MARK: Transitions

    private mutating func follow(_ claim: TermRule.Claim, now: ContinuousClock.Instant) -> Action {
        _ = self.terms.observe(claim)
        self.state = .following(claim)
        self.lastFrame = now
        return .follow(claim)
    }

    private mutating func becomeRoot(nextSeq: UInt64?) -> Action {
        let term = self.terms.term + 1
        _ = self.terms.observe(TermRule.Claim(term: term, root: self.name))
        self.state = .root(term: term)
        self.pendingTerm = nil
        return .becomeRoot(term: term, nextSeq: nextSeq)
    }
}

extension IngestRole.Answer {
    /// The body of an answer to `GET /casty/v1/root`, without its line end: `root <T> <name>`,
    /// `follower <T> <name>` or `starting` (`.unreachable` is never sent: it says `starting`).
    public var line: String {
        switch self {
        case .root(let claim): "root \(claim.term) \(claim.root)"
        case .follower(of: let claim?): "follower \(claim.term) \(claim.root)"
        case .follower(of: nil), .unreachable: "starting"
        }
    }

    /// Reads the body of an answer to `GET /casty/v1/root`; `nil` if it is not one.
    public init?(line: String) {
        let words = line.split(whereSeparator: \.isWhitespace)
        switch words.first {
        case "starting" where words.count == 1:
            self = .follower(of: nil)
        case "root", "follower":
            guard words.count == 3, let term = UInt64(words[1]), term > 0 else { return nil }
            let claim = TermRule.Claim(term: term, root: String(words[2]))
            self = words[0] == "root" ? .root(claim) : .follower(of: claim)
        default:
            return nil
        }
    }
}
