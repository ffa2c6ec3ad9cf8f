import CastyTree
import Testing

@Suite struct IngestRoleTests {
    typealias Claim = TermRule.Claim
    static let t0 = ContinuousClock.now

    static func ms(_ value: Int) -> ContinuousClock.Instant { t0 + .milliseconds(value) }

    /// A standby that followed the primary (term 1) and received segments up to `lastSeq`.
    static func followingStandby(lastSeq: UInt64, at time: Int = 0) -> IngestRole {
        var standby = IngestRole(name: "root2", primary: "root", standby: "root2")
        #expect(standby.start() == .verify("root"))
        #expect(standby.probed(.root(Claim(term: 1, root: "root")), now: ms(time)) == .follow(Claim(term: 1, root: "root")))
        #expect(standby.linkAccepted(Claim(term: 1, root: "root"), nextSeq: 0, now: ms(time)) == .none)
        for seq in 0...lastSeq { standby.received(seq: seq, now: ms(time)) }
        return standby
    }

    // MARK: Start

    @Test func aFreshFleetMakesThePrimaryRootInTermOne() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        var standby = IngestRole(name: "root2", primary: "root", standby: "root2")
        #expect(primary.start() == .verify("root2"))
        #expect(primary.probed(standby.answer, now: Self.ms(0)) == .becomeRoot(term: 1, nextSeq: nil))
        #expect(primary.isRoot)
        #expect(standby.probed(primary.answer, now: Self.ms(0)) == .follow(Claim(term: 1, root: "root")))
        #expect(!standby.isRoot)
    }

    @Test func aStandbyNeverTakesOverARootItNeverFollowed() {
        var standby = IngestRole(name: "root2", primary: "root", standby: "root2")
        #expect(standby.probed(.unreachable, now: Self.ms(0)) == .none)
        #expect(standby.probed(.follower(of: nil), now: Self.ms(1000)) == .none)
        #expect(standby.tick(now: Self.ms(60_000)) == .none)
        #expect(standby.state == .starting)
        // Its link to a root that answered, but never accepted it: still no takeover.
        #expect(standby.probed(.root(Claim(term: 1, root: "root")), now: Self.ms(61_000)) == .follow(Claim(term: 1, root: "root")))
        standby.linkDown(now: Self.ms(61_100))
        #expect(standby.tick(now: Self.ms(70_000)) == .none)
        #expect(!standby.isRoot)
    }

    @Test func joinsAreServedOnlyByTheRoot() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        #expect(primary.join(term: nil) == (.unavailable(claim: nil), .none))
        _ = primary.probed(.unreachable, now: Self.ms(0))
        #expect(primary.join(term: nil) == (.serve(term: 1), .none))
        #expect(primary.join(term: 1) == (.serve(term: 1), .none))
        var standby = Self.followingStandby(lastSeq: 3)
        #expect(standby.join(term: 1) == (.redirect(to: "root", claim: Claim(term: 1, root: "root")), .none))
        // While it suspects its root, it sends nobody there: the joiner retries, here.
        standby.linkDown(now: Self.ms(10))
        #expect(standby.join(term: 1) == (.unavailable(claim: Claim(term: 1, root: "root")), .none))
    }

    // MARK: Takeover

    @Test func aDeadPrimaryIsTakenOverAfterTheGraceContinuingTheNumbering() {
        var standby = Self.followingStandby(lastSeq: 41, at: 1000)
        standby.linkDown(now: Self.ms(1050))  // connection reset: SIGKILL
        #expect(standby.tick(now: Self.ms(1500)) == .none)
        #expect(standby.tick(now: Self.ms(1549)) == .none)
        #expect(standby.tick(now: Self.ms(1550)) == .becomeRoot(term: 2, nextSeq: 42))
        #expect(standby.state == .root(term: 2))
        #expect(standby.answer == .root(Claim(term: 2, root: "root2")))
        #expect(standby.join(term: 1) == (.serve(term: 2), .none))
        // Once root, nothing more happens by itself.
        #expect(standby.tick(now: Self.ms(1650)) == .none)
    }

    @Test func aSilentPrimaryIsTakenOverWithinTwoSecondsOfItsLastFrame() {
        var standby = Self.followingStandby(lastSeq: 7, at: 0)
        standby.received(seq: nil, now: Self.ms(100))  // a heartbeat keeps it alive
        #expect(standby.tick(now: Self.ms(899)) == .none)
        #expect(standby.tick(now: Self.ms(900)) == .none)
        #expect(standby.state == .suspecting(Claim(term: 1, root: "root"), since: Self.ms(900)))
        #expect(standby.tick(now: Self.ms(1399)) == .none)
        let action = standby.tick(now: Self.ms(1400))
        #expect(action == .becomeRoot(term: 2, nextSeq: 8))
        #expect(Self.ms(1400) - Self.ms(100) < .seconds(2))
    }

    @Test func aRootThatComesBackWithinTheGraceIsKept() {
        var standby = Self.followingStandby(lastSeq: 5, at: 0)
        standby.linkDown(now: Self.ms(100))
        #expect(standby.linkAccepted(Claim(term: 1, root: "root"), nextSeq: 6, now: Self.ms(300)) == .none)
        standby.received(seq: 6, now: Self.ms(350))
        #expect(standby.tick(now: Self.ms(700)) == .none)
        #expect(standby.state == .following(Claim(term: 1, root: "root")))
        // A frame alone ends the suspicion as well.
        standby.linkDown(now: Self.ms(800))
        standby.received(seq: 7, now: Self.ms(900))
        #expect(standby.tick(now: Self.ms(1350)) == .none)
        #expect(standby.nextSeq == 8)
    }

    @Test func aHigherRootAnsweringWhileFollowingIsFollowed() {
        var standby = Self.followingStandby(lastSeq: 1)
        // The answer of the root followed already changes nothing.
        #expect(standby.probed(.root(Claim(term: 1, root: "root")), now: Self.ms(10)) == .none)
        #expect(standby.probed(.root(Claim(term: 5, root: "root")), now: Self.ms(20)) == .follow(Claim(term: 5, root: "root")))
        // A link accepted by a stale root is dropped for the current one.
        #expect(standby.linkAccepted(Claim(term: 1, root: "root"), nextSeq: 0, now: Self.ms(30)) == .follow(Claim(term: 5, root: "root")))
    }

    // MARK: The old primary

    @Test func theOldPrimaryRestartedFollowsTheStandby() {
        var standby = Self.followingStandby(lastSeq: 41)
        standby.linkDown(now: Self.ms(0))
        #expect(standby.tick(now: Self.ms(500)) == .becomeRoot(term: 2, nextSeq: 42))
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        #expect(primary.start() == .verify("root2"))
        #expect(primary.probed(standby.answer, now: Self.ms(5000)) == .follow(Claim(term: 2, root: "root2")))
        #expect(primary.linkAccepted(Claim(term: 2, root: "root2"), nextSeq: 90, now: Self.ms(5010)) == .none)
        #expect(!primary.isRoot)
        // It sends joiners to the root instead of making a second stream.
        #expect(primary.join(term: nil) == (.redirect(to: "root2", claim: Claim(term: 2, root: "root2")), .none))
        // And it is now the standby of the new root: it takes over in term 3 when that one dies.
        primary.received(seq: 90, now: Self.ms(5100))
        primary.linkDown(now: Self.ms(6000))
        #expect(primary.tick(now: Self.ms(6500)) == .becomeRoot(term: 3, nextSeq: 91))
    }

    @Test func theOldPrimaryRestartedWhileItsStandbyFollowedItWaits() {
        // The standby has not noticed yet: it still follows the dead primary's term 1.
        let standby = Self.followingStandby(lastSeq: 3)
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        #expect(primary.probed(standby.answer, now: Self.ms(0)) == .none)
        #expect(primary.state == .starting)
        #expect(primary.probed(.root(Claim(term: 2, root: "root2")), now: Self.ms(1000)) == .follow(Claim(term: 2, root: "root2")))
    }

    @Test func aFrozenPrimaryThatWakesUpStepsDownAtItsNextProbe() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.follower(of: nil), now: Self.ms(0))
        #expect(primary.state == .root(term: 1))
        // Frozen 4 s: the standby took over in term 2. Awake, the primary hears its answer.
        #expect(primary.probed(.root(Claim(term: 2, root: "root2")), now: Self.ms(5000)) == .stepDown(follow: Claim(term: 2, root: "root2")))
        #expect(primary.state == .following(Claim(term: 2, root: "root2")))
        #expect(primary.join(term: 2) == (.redirect(to: "root2", claim: Claim(term: 2, root: "root2")), .none))
    }

    @Test func aRootThatWasFrozenTakesNoJoinUntilTheOtherIngestAnswers() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.unreachable, now: Self.ms(0))
        #expect(primary.tick(now: Self.ms(100)) == .none)
        #expect(primary.tick(now: Self.ms(200)) == .none)
        // Ticks late by less than the silence timeout: a busy machine, not a freeze.
        #expect(primary.tick(now: Self.ms(900)) == .none)
        #expect(!primary.doubting)
        // Frozen 4 s: it asks the standby, and serves nobody meanwhile.
        #expect(primary.tick(now: Self.ms(4900)) == .verify("root2"))
        #expect(primary.join(term: 1) == (.unavailable(claim: Claim(term: 1, root: "root")), .none))
        #expect(primary.join(term: nil) == (.unavailable(claim: Claim(term: 1, root: "root")), .none))
        // The standby did not take over: it goes on serving.
        #expect(primary.probed(.follower(of: Claim(term: 1, root: "root")), now: Self.ms(5000)) == .none)
        #expect(primary.join(term: 1) == (.serve(term: 1), .none))
        // Frozen again, and this time the standby took over: it steps down, never serving.
        #expect(primary.tick(now: Self.ms(9000)) == .verify("root2"))
        #expect(primary.join(term: 1).0 == .unavailable(claim: Claim(term: 1, root: "root")))
        #expect(primary.probed(.root(Claim(term: 2, root: "root2")), now: Self.ms(9100)) == .stepDown(follow: Claim(term: 2, root: "root2")))
        #expect(!primary.doubting)
    }

    @Test func aStaleRootChecksAHigherTermHeardInAJoin() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.unreachable, now: Self.ms(0))
        // A mirror that followed root2 in term 2 joins: refused, and the root asks root2 (once).
        #expect(primary.join(term: 2) == (.unavailable(claim: Claim(term: 1, root: "root")), .verify("root2")))
        #expect(primary.join(term: 2) == (.unavailable(claim: Claim(term: 1, root: "root")), .none))
        #expect(primary.probed(.root(Claim(term: 2, root: "root2")), now: Self.ms(100)) == .stepDown(follow: Claim(term: 2, root: "root2")))
    }

    @Test func aHigherTermThatNobodyAnswersForIsOvertaken() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.unreachable, now: Self.ms(0))
        #expect(primary.join(term: 7).1 == .verify("root2"))
        // root2 is dead (or follows): the primary stays root above the term heard.
        #expect(primary.probed(.unreachable, now: Self.ms(100)) == .raiseTerm(8))
        #expect(primary.join(term: 7) == (.serve(term: 8), .none))
        // A join without a higher term changes nothing when the answer comes.
        #expect(primary.probed(.follower(of: nil), now: Self.ms(200)) == .none)
        #expect(primary.state == .root(term: 8))
    }

    // MARK: Splits

    @Test func aSplitEndsWithTheHighestTerm() {
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.unreachable, now: Self.ms(0))
        var standby = Self.followingStandby(lastSeq: 10)
        standby.linkDown(now: Self.ms(0))
        #expect(standby.tick(now: Self.ms(500)) == .becomeRoot(term: 2, nextSeq: 11))
        // Both are root (the primary was cut off). Each probes the other.
        #expect(standby.probed(primary.answer, now: Self.ms(1000)) == .none)
        #expect(primary.probed(standby.answer, now: Self.ms(1000)) == .stepDown(follow: Claim(term: 2, root: "root2")))
        #expect(standby.isRoot && !primary.isRoot)
    }

    @Test func aSplitOfEqualTermsEndsWithThePrimary() {
        // The primary reaches term 3 by overtaking a term 2 it could not check.
        var primary = IngestRole(name: "root", primary: "root", standby: "root2")
        _ = primary.probed(.unreachable, now: Self.ms(0))
        _ = primary.join(term: 2)
        #expect(primary.probed(.unreachable, now: Self.ms(10)) == .raiseTerm(3))
        // The standby reaches term 3 by taking over from a term 2 root.
        var standby = IngestRole(name: "root2", primary: "root", standby: "root2")
        _ = standby.probed(.root(Claim(term: 2, root: "root")), now: Self.ms(0))
        _ = standby.linkAccepted(Claim(term: 2, root: "root"), nextSeq: 0, now: Self.ms(0))
        standby.linkDown(now: Self.ms(0))
        #expect(standby.tick(now: Self.ms(500)) == .becomeRoot(term: 3, nextSeq: 0))
        #expect(primary.probed(standby.answer, now: Self.ms(1000)) == .none)
        #expect(standby.probed(primary.answer, now: Self.ms(1000)) == .stepDown(follow: Claim(term: 3, root: "root")))
        #expect(primary.isRoot && !standby.isRoot)
    }

    // MARK: A simulated pair

    /// Two ingests, a clock in 100 ms steps, a root that numbers one segment per step and sends
    /// it to its follower, probes every second; faults by hand.
    struct Pair {
        var roles: [String: IngestRole] = [
            "root": IngestRole(name: "root", primary: "root", standby: "root2"),
            "root2": IngestRole(name: "root2", primary: "root", standby: "root2"),
        ]
        var alive: Set<String> = ["root", "root2"]
        var frozen: Set<String> = []
        var linked: Set<String> = []
        var numbering: [String: UInt64] = [:]
        var streams: [String: Int] = [:]
        var streamCount = 0
        var time = 0
        /// What the listeners of the serving root got: (stream, seq), in order.
        var heard: [(stream: Int, seq: UInt64)] = []
        /// The times at which each ingest became root.
        var becameRoot: [(name: String, at: Int)] = []

        func running(_ name: String) -> Bool { self.alive.contains(name) && !self.frozen.contains(name) }

        func other(_ name: String) -> String { name == "root" ? "root2" : "root" }

        mutating func start(_ name: String) {
            self.alive.insert(name)
            self.roles[name] = IngestRole(name: name, primary: "root", standby: "root2")
            self.linked.remove(name)
            self.handle(name, self.roles[name]!.start())
        }

        mutating func kill(_ name: String) {
            self.alive.remove(name)
            self.linked.remove(name)
            self.linked.remove(self.other(name))
            if self.running(self.other(name)) { self.roles[self.other(name)]!.linkDown(now: ms(self.time)) }
        }

        mutating func handle(_ name: String, _ action: IngestRole.Action) {
            switch action {
            case .none, .raiseTerm: break
            case .follow, .stepDown: self.linked.remove(name)
            case .becomeRoot(_, let nextSeq):
                self.linked.remove(name)
                self.becameRoot.append((name, self.time))
                if let nextSeq {
                    self.numbering[name] = nextSeq
                    self.streams[name] = self.streams[self.other(name)]
                } else {
                    self.numbering[name] = 0
                    self.streamCount += 1
                    self.streams[name] = self.streamCount
                }
            case .verify(let target):
                let answer = self.running(target) ? self.roles[target]!.answer : .unreachable
                self.handle(name, self.roles[name]!.probed(answer, now: ms(self.time)))
            }
        }

        mutating func step() {
            self.time += 100
            let now = ms(self.time)
            for name in ["root", "root2"] where self.running(name) {
                // Followers connect to their root.
                if case .following(let claim) = self.roles[name]!.state, !self.linked.contains(name) {
                    if self.running(claim.root), case .root(let term) = self.roles[claim.root]!.state {
                        self.linked.insert(name)
                        self.streams[name] = self.streams[claim.root]
                        self.handle(name, self.roles[name]!.linkAccepted(Claim(term: term, root: claim.root), nextSeq: self.numbering[claim.root], now: now))
                    } else if !self.alive.contains(claim.root) {
                        self.roles[name]!.linkDown(now: now)
                    }
                }
                // The root numbers a segment and sends it on.
                if case .root = self.roles[name]!.state, let seq = self.numbering[name] {
                    self.numbering[name] = seq + 1
                    let follower = self.other(name)
                    if self.running(follower), self.linked.contains(follower) {
                        self.roles[follower]!.received(seq: seq, now: now)
                    }
                    if self.servingRoot == name { self.heard.append((self.streams[name]!, seq)) }
                }
                if self.time % 1000 == 0 {
                    let answer = self.running(self.other(name)) ? self.roles[self.other(name)]!.answer : .unreachable
                    self.handle(name, self.roles[name]!.probed(answer, now: now))
                }
                self.handle(name, self.roles[name]!.tick(now: now))
            }
        }

        /// The root listeners get audio from: the running root of the highest claim.
        var servingRoot: String? {
            let rule = TermRule(primary: "root")
            let roots = ["root", "root2"].compactMap { name -> Claim? in
                guard self.running(name), case .root(let term) = self.roles[name]!.state else { return nil }
                return Claim(term: term, root: name)
            }
            return roots.max { rule.outranks($1, $0) }?.root
        }

        mutating func run(milliseconds: Int) {
            for _ in 0..<(milliseconds / 100) { self.step() }
        }

        var runningRoots: [String] {
            ["root", "root2"].filter { self.running($0) && self.roles[$0]!.isRoot }
        }
    }

    static func expectContinuous(_ heard: [(stream: Int, seq: UInt64)]) {
        #expect(Set(heard.map(\.stream)).count == 1, "one stream")
        for (a, b) in zip(heard, heard.dropFirst()) {
            #expect(b.seq == a.seq + 1, "\(a.seq) then \(b.seq)")
        }
    }

    @Test func aKilledPrimaryIsReplacedWithoutAGapAndComesBackAsAFollower() {
        var pair = Pair()
        pair.start("root")
        pair.start("root2")
        pair.run(milliseconds: 3000)
        #expect(pair.runningRoots == ["root"])
        pair.kill("root")
        let killedAt = pair.time
        pair.run(milliseconds: 3000)
        #expect(pair.runningRoots == ["root2"])
        let takeover = pair.becameRoot.last!
        #expect(takeover.name == "root2" && takeover.at - killedAt <= 2000)
        pair.start("root")
        pair.run(milliseconds: 5000)
        #expect(pair.runningRoots == ["root2"])
        #expect(pair.roles["root"]!.state == .following(Claim(term: 2, root: "root2")))
        #expect(pair.becameRoot.count == 2)
        Self.expectContinuous(pair.heard)
        #expect(pair.heard.count > 80)
    }

    @Test func aFrozenPrimaryIsReplacedAndStepsDownWhenItWakes() {
        var pair = Pair()
        pair.start("root")
        pair.start("root2")
        pair.run(milliseconds: 3000)
        pair.frozen.insert("root")
        let frozenAt = pair.time
        pair.run(milliseconds: 4000)
        let takeover = pair.becameRoot.last!
        #expect(takeover.name == "root2" && takeover.at - frozenAt <= 2000)
        pair.frozen.remove("root")
        #expect(pair.runningRoots.count == 2)  // until its next probe
        pair.run(milliseconds: 1000)
        #expect(pair.runningRoots == ["root2"])
        pair.run(milliseconds: 3000)
        #expect(pair.roles["root"]!.state == .following(Claim(term: 2, root: "root2")))
        Self.expectContinuous(pair.heard)
    }

    @Test func rootsTakeTurnsOverManyFailures() {
        var pair = Pair()
        pair.start("root")
        pair.start("root2")
        pair.run(milliseconds: 2000)
        for round in 0..<6 {
            let root = pair.runningRoots.first!
            pair.kill(root)
            pair.run(milliseconds: 2000)
            #expect(pair.runningRoots == [pair.other(root)], "round \(round)")
            pair.start(root)
            pair.run(milliseconds: 2000)
            #expect(pair.runningRoots == [pair.other(root)], "round \(round)")
        }
        #expect(pair.becameRoot.count == 7)
        #expect(pair.roles[pair.runningRoots.first!]!.state == .root(term: 7))
        Self.expectContinuous(pair.heard)
    }
}

@Suite struct IngestRoleAnswerTests {
    @Test(arguments: [
        IngestRole.Answer.root(TermRule.Claim(term: 2, root: "root2")),
        .follower(of: TermRule.Claim(term: 7, root: "root")),
        .follower(of: nil),
    ])
    func answersRoundTripThroughTheirLine(_ answer: IngestRole.Answer) {
        #expect(IngestRole.Answer(line: answer.line) == answer)
        #expect(IngestRole.Answer(line: answer.line + "\n") == answer)
    }

    @Test func theLinesAreTheSpecsAndOthersAreRefused() {
        #expect(IngestRole.Answer.root(TermRule.Claim(term: 2, root: "root2")).line == "root 2 root2")
        #expect(IngestRole.Answer.unreachable.line == "starting")
        for bad in ["", "root", "root x root2", "root 0 root2", "follower 1", "leader 1 a", "starting now", "root 1 a b"] {
            #expect(IngestRole.Answer(line: bad) == nil, "\(bad)")
        }
    }
}
