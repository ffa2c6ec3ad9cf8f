import CastyFuzzDrivers
import CastyPeerProtocol
import CastyStream
import CastyTestSupport
import CastyTree
import Foundation
import Testing

/// Many mirrors failing at the same instant, simulated in time with the root's real rules: its
/// ``JoinPolicy`` (coordinator, `lost` joins, loss reports, ``JoinAdmission``), every mirror's
/// ``ChildSlots``, and each mirror's jittered ``ReconnectBackoff`` after a refused or failed join.
///
/// What the simulation models, as the nodes behave (docs/PROTOCOL.md):
/// - a killed node's connections reset: each live child notices within a few milliseconds and
///   rejoins through the root at once with `lost`; its live parent reports it after 1.5 s;
/// - a join reaches the root, which may answer busy (the child backs off), accept, or redirect
///   to the planned parent; a redirect to a dead node fails to connect, and the joiner backs off;
/// - `relocate(X)` reaches X if X's chain of parents up to the root is whole, 10 ms later; a
///   relocated node ends its link and rejoins at once.
private struct MassFailureSimulation {
    struct Report {
        var failures = 0
        /// Live mirrors whose parent died.
        var orphans = 0
        /// Join requests that reached the root, refused ones included.
        var joinsAtRoot = 0
        var busyAnswers = 0
        /// The most joins the root took (not answered busy) in any second.
        var peakAdmittedPerSecond = 0
        var lossReports = 0
        /// Distinct live mirrors that joined again.
        var rejoiners = 0
        /// The most join requests at the root in any 100 ms, and in any second.
        var peakPer100ms = 0
        var peakPerSecond = 0
        /// When every live mirror was attached where the root planned it again, in seconds after
        /// the failure; nil if never.
        var healedAfter: Double?
        /// When the root's plan held no dead mirror any more; nil if never.
        var cleanAfter: Double?
        /// The longest time a live mirror went without a parent, in seconds.
        var longestOrphaned = 0.0
        var depthAfter = 0
        var minimumDepth = 0
    }

    enum Event {
        /// `node` sends a join to the root; `lost` is the parent it lost, if it failed.
        case join(node: String, lost: String?)
        /// `reporter` tells the root that its child `child` died.
        case lossReport(reporter: String, child: String)
        /// `node` gets `relocate`: it ends its link and rejoins.
        case relocate(node: String)
        /// `node` gets `evict`: its parent drops it, it sends its child mirrors a `leave` (the
        /// root placed them elsewhere), and all of them rejoin.
        case evicted(node: String)
    }

    let fanout: Int
    let secret = "sim"
    var root: JoinPolicy
    var slots: [String: ChildSlots] = [:]
    /// The parent each live, attached mirror holds a link to.
    var parent: [String: String] = [:]
    var alive: Set<String>
    var backoffs: [String: ReconnectBackoff] = [:]
    /// Since when each live mirror has had no parent (in milliseconds).
    var orphanedSince: [String: Int] = [:]
    var events: [Int: [Event]] = [:]
    var rng: SplitMix64
    var report = Report()
    var joinTimes: [Int] = []
    var busyTimes: [Int] = []
    var rejoined: Set<String> = []
    let start = Date()

    init(mirrors: Int, fanout: Int, seed: UInt64) {
        self.fanout = fanout
        let names = (0..<mirrors).map { "m\($0)" }
        let fleet = FleetFile(
            upstream: "http://127.0.0.1:1/",
            fanout: fanout,
            secret: self.secret,
            ingest: .init(name: "root", host: "127.0.0.1", port: 1),
            mirrors: names.enumerated().map { .init(name: $1, host: "10.0.\($0 / 250).\($0 % 250)", port: 9000) }
        )
        self.root = JoinPolicy(name: "root", fleet: fleet)
        self.alive = Set(names)
        self.rng = SplitMix64(seed: seed)
        // The fleet forms one mirror every 2 ms (the admission never refuses that pace).
        for (index, name) in names.enumerated() {
            self.slots[name] = ChildSlots(fanout: fanout)
            self.join(name, lost: nil, at: -2 * (names.count - index) - 100_000)
        }
    }

    /// The root's clock at simulated millisecond `time`.
    func date(_ time: Int) -> Date { self.start.addingTimeInterval(Double(time) / 1000) }

    var minimumDepth: Int { TreeCoordinator.minimumDepth(mirrors: self.alive.count, fanout: self.fanout) }

    /// The live children holding a link to `node`.
    func children(of node: String) -> [String] {
        self.parent.compactMap { $0.value == node ? $0.key : nil }.sorted()
    }

    mutating func schedule(_ event: Event, at time: Int) {
        self.events[time, default: []].append(event)
    }

    mutating func backoff(_ node: String) -> Int {
        var backoff = self.backoffs[node] ?? ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(2), jitter: 0.5)
        let delay = backoff.next(using: &self.rng)
        self.backoffs[node] = backoff
        return Int(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
    }

    mutating func detach(_ node: String, at time: Int) {
        if let old = self.parent.removeValue(forKey: node) {
            self.slots[old]?.remove(node)
            if old == "root" { self.root.childLeft(node) }
        }
        if self.orphanedSince[node] == nil { self.orphanedSince[node] = time }
    }

    mutating func attach(_ node: String, to target: String, at time: Int) {
        self.parent[node] = target
        self.backoffs[node]?.reset()
        if let since = self.orphanedSince.removeValue(forKey: node), time >= 0 {
            self.report.longestOrphaned = max(self.report.longestOrphaned, Double(time - since) / 1000)
        }
    }

    /// Whether `ancestor` is on `node`'s chain of links (its `Casty-Path`).
    func isAncestor(_ ancestor: String, of node: String) -> Bool {
        var current = node
        for _ in 0..<64 {
            guard let up = self.parent[current] else { return false }
            if up == ancestor { return true }
            current = up
        }
        return false
    }

    /// Whether `node`'s chain of links reaches the root through live nodes.
    func reachesRoot(_ node: String) -> Bool {
        var current = node
        var hops = 0
        while let up = self.parent[current], hops < 64 {
            if up == "root" { return true }
            guard self.alive.contains(up) else { return false }
            current = up
            hops += 1
        }
        return false
    }

    mutating func announce(_ changes: [TreeChange], at time: Int) {
        for change in changes {
            switch change {
            case .relocate(let node):
                // A tree frame reaches a node whose chain to the root is whole.
                guard self.alive.contains(node), self.reachesRoot(node) else { continue }
                self.schedule(.relocate(node: node), at: time + 10)
            case .evict(let node):
                // An evicted live node (declared failed while it was only late) rejoins as new.
                guard self.alive.contains(node), self.reachesRoot(node) else { continue }
                self.schedule(.evicted(node: node), at: time + 10)
            default:
                continue
            }
        }
    }

    mutating func join(_ node: String, lost: String?, at time: Int) {
        guard self.alive.contains(node) else { return }
        if time >= 0 {
            self.report.joinsAtRoot += 1
            self.joinTimes.append(time)
            self.rejoined.insert(node)
        }
        let request = JoinRequest(name: node, from: nil, stream: nil, lost: lost, secret: self.secret, now: self.start)
        let (decision, changes) = self.root.admit(request, now: self.date(time))
        self.announce(changes, at: time)
        var target: String
        switch decision {
        case .accept:
            self.attach(node, to: "root", at: time)
            return
        case .redirect(let to):
            target = to
        case .refuse(.busy):
            self.report.busyAnswers += 1
            self.busyTimes.append(time)
            self.schedule(.join(node: node, lost: lost), at: time + self.backoff(node))
            return
        case .refuse(let refusal):
            Issue.record("\(node) refused: \(refusal)")
            return
        }
        for _ in 0..<64 {
            guard self.alive.contains(target), target != node else {
                // Connection refused: the joiner backs off and asks the root again, without `lost`
                // (it never had that parent).
                self.schedule(.join(node: node, lost: nil), at: time + 1 + self.backoff(node))
                return
            }
            if self.isAncestor(node, of: target) {
                // Join rule 7: a 409, and the target, whose place is stale, rejoins at once.
                self.schedule(.relocate(node: target), at: time + 1)
                self.schedule(.join(node: node, lost: nil), at: time + 1 + self.backoff(node))
                return
            }
            switch self.slots[target]!.join(node) {
            case .accept:
                self.attach(node, to: target, at: time)
                return
            case .redirect(let child):
                target = child
            }
        }
        Issue.record("\(node) was redirected 64 times")
    }

    /// Kills `victims` at time 0 and runs until the links match the plan again (or 60 s).
    mutating func kill(_ victims: [String]) -> Report {
        self.report.failures = victims.count
        for victim in victims { self.alive.remove(victim) }
        for victim in victims.sorted() {
            for child in self.children(of: victim) where self.alive.contains(child) {
                self.report.orphans += 1
                self.detach(child, at: 0)
                self.schedule(.join(node: child, lost: victim), at: 2 + Int.random(in: 0..<10, using: &self.rng))
            }
            if let up = self.parent[victim], up == "root" || self.alive.contains(up) {
                self.schedule(.lossReport(reporter: up, child: victim), at: 1500 + Int.random(in: 0..<50, using: &self.rng))
            }
            self.detach(victim, at: 0)
            self.orphanedSince[victim] = nil
        }
        for time in 0...60_000 {
            for event in self.events.removeValue(forKey: time) ?? [] {
                switch event {
                case .join(let node, let lost):
                    if self.parent[node] == nil { self.join(node, lost: lost, at: time) }
                case .lossReport(let reporter, let child):
                    guard reporter == "root" || self.alive.contains(reporter) else { continue }
                    self.report.lossReports += 1
                    self.announce(self.root.childLost(child, reporter: reporter, now: self.date(time)), at: time)
                case .relocate(let node):
                    guard self.alive.contains(node), self.parent[node] != nil else { continue }
                    self.detach(node, at: time)
                    self.join(node, lost: nil, at: time)
                case .evicted(let node):
                    guard self.alive.contains(node), self.parent[node] != nil else { continue }
                    for child in self.children(of: node) {
                        self.detach(child, at: time)
                        self.schedule(.join(node: child, lost: nil), at: time + 1)
                    }
                    self.detach(node, at: time)
                    self.join(node, lost: nil, at: time)
                }
            }
            // The root's repair timer.
            if time % 250 == 0 { self.announce(self.root.repair(now: self.date(time)), at: time) }
            if time % 250 == 0, self.report.healedAfter == nil, self.liveInPlace() { self.report.healedAfter = Double(time) / 1000 }
            if time % 250 == 0, self.matchesPlan() {
                self.report.cleanAfter = Double(time) / 1000
                break
            }
        }
        self.report.rejoiners = self.rejoined.count
        self.report.depthAfter = self.plannedMaxDepth
        self.report.minimumDepth = self.minimumDepth
        let sorted = self.joinTimes.sorted()
        self.report.peakPer100ms = Self.peak(sorted, window: 100)
        self.report.peakPerSecond = Self.peak(sorted, window: 1000)
        var admitted = sorted
        for time in self.busyTimes { admitted.remove(at: admitted.firstIndex(of: time)!) }
        self.report.peakAdmittedPerSecond = Self.peak(admitted, window: 1000)
        return self.report
    }

    /// The deepest planned place.
    var plannedMaxDepth: Int {
        guard let tree = self.root.tree else { return 0 }
        var deepest = 0
        for node in tree.keys {
            var depth = 0
            var current = node
            while let up = tree[current], depth < 64 {
                depth += 1
                current = up
            }
            deepest = max(deepest, depth)
        }
        return deepest
    }

    /// Whether every live mirror holds a link to the parent the root planned for it.
    func liveInPlace() -> Bool {
        guard let tree = self.root.tree else { return false }
        return self.alive.allSatisfy { self.parent[$0] != nil && self.parent[$0] == tree[$0] }
    }

    /// Whether, besides, the root plans no dead mirror (one moved into a hole that died with its
    /// former parent stays planned, with nobody below it, until the repair's deadline).
    func matchesPlan() -> Bool {
        self.liveInPlace() && self.root.tree?.count == self.alive.count
    }

    /// The first few live mirrors whose link differs from the plan.
    func mismatches(limit: Int = 5) -> [String] {
        let tree = self.root.tree ?? [:]
        var found: [String] = []
        for node in self.alive.sorted() where self.parent[node] == nil || self.parent[node] != tree[node] {
            found.append("\(node): holds \(self.parent[node] ?? "-"), planned \(tree[node] ?? "-") (alive: \(tree[node].map { self.alive.contains($0) || $0 == "root" } ?? false))")
            if found.count == limit { break }
        }
        let cutOff = self.alive.filter { !self.reachesRoot($0) }.count
        found.append("\(cutOff) live mirrors cut off from the root, \(self.alive.filter { tree[$0] == nil }.count) live ones not planned")
        let dead = tree.keys.filter { !self.alive.contains($0) }
        if !dead.isEmpty { found.append("\(dead.count) dead nodes planned, e.g. \(dead.prefix(3))") }
        return found
    }

    /// The most join times within any `window` milliseconds.
    static func peak(_ sorted: [Int], window: Int) -> Int {
        var best = 0
        var low = 0
        for high in sorted.indices {
            while sorted[high] - sorted[low] >= window { low += 1 }
            best = max(best, high - low + 1)
        }
        return best
    }
}

/// Serialized, and each run on a thread of its own: a simulation keeps a core busy for seconds,
/// which on the cooperative pool would starve the other suites' asynchronous tests.
@Suite(.serialized) struct MassFailureSimulationTests {
    /// Many mirrors (inner ones included) killed at once — a quarter of 31 and of 1023, 1 %, 5 % and
    /// 10 % of 10,000: the survivors are all placed again where the root plans them, at minimum
    /// depth, within the ring a parent keeps; the root plans no dead mirror afterwards; only the
    /// orphans, the mirrors moved into holes and the joiners sent to a dead one rejoin; and the
    /// root takes no more joins in any second than its admission's pace plus its burst.
    @Test(arguments: [(31, 8), (1023, 256), (10_000, 100), (10_000, 500), (10_000, 1000)])
    func aQuarterOfTheFleetKilledAtOnceHealsWithoutAStorm(mirrors: Int, killed: Int) async throws {
        try await onDedicatedThread { Self.killAtOnce(mirrors: mirrors, killed: killed) }
    }

    static func killAtOnce(mirrors: Int, killed: Int) {
        var simulation = MassFailureSimulation(mirrors: mirrors, fanout: 2, seed: UInt64(mirrors))
        #expect(simulation.matchesPlan(), "the fleet formed")
        var rng = SplitMix64(seed: 99)
        let victims = Array((0..<mirrors).map { "m\($0)" }.shuffled(using: &rng).prefix(killed))
        let report = simulation.kill(victims)
        print(
            """
            mass failure: \(mirrors) mirrors, \(killed) killed at once: \(report.orphans) orphans; \
            live mirrors in place after \(report.healedAfter.map { String(format: "%.1f s", $0) } ?? "never"), \
            no dead mirror planned after \(report.cleanAfter.map { String(format: "%.1f s", $0) } ?? "never"); \
            \(report.joinsAtRoot) joins at the root (\(String(format: "%.2f", Double(report.joinsAtRoot) / Double(killed))) per failure, \
            \(report.busyAnswers) answered busy) from \(report.rejoiners) mirrors; \(report.lossReports) loss reports; \
            peak \(report.peakPer100ms) joins in 100 ms, \(report.peakPerSecond) in a second, \(report.peakAdmittedPerSecond) taken; \
            longest without a parent \(String(format: "%.2f s", report.longestOrphaned)); \
            depth \(report.depthAfter) (minimum \(report.minimumDepth))
            """
        )
        #expect(report.healedAfter != nil, "the links match the root's plan again: \(simulation.mismatches())")
        #expect(report.cleanAfter != nil, "the root plans only live mirrors: \(simulation.mismatches())")
        #expect(report.depthAfter == report.minimumDepth)
        let admission = JoinAdmission.rootDefault
        #expect(Double(report.peakAdmittedPerSecond) <= admission.rate + Double(admission.burst))
        // Lossless: every survivor is back within the ring a parent keeps (about 30 s).
        #expect(report.longestOrphaned < 30)
        // Only orphans and the nodes that fill holes rejoin: at most one moved node per failure.
        #expect(report.rejoiners <= report.orphans + killed)
    }

    /// A quarter of 10,000 mirrors killed at once does not heal yet: a mirror whose parent died
    /// keeps its whole former subtree attached below it while it rejoins, and when the root's plan
    /// puts it under one of its own former descendants, the ancestor refusal (join rule 7) sends that
    /// descendant back to the root, which places it in the same stale subtree again. Recorded as a
    /// known issue so that the day it heals, this test says so.
    @Test func aQuarterOfTenThousandKilledAtOnceIsAKnownLimit() async throws {
        try await onDedicatedThread { Self.aQuarterOfTenThousand() }
    }

    static func aQuarterOfTenThousand() {
        var simulation = MassFailureSimulation(mirrors: 10_000, fanout: 2, seed: 10_000)
        var rng = SplitMix64(seed: 99)
        let victims = Array((0..<10_000).map { "m\($0)" }.shuffled(using: &rng).prefix(2500))
        let report = simulation.kill(victims)
        print("mass failure: 10000 mirrors, 2500 killed at once (known limit): live mirrors in place after \(report.healedAfter.map { String(format: "%.1f s", $0) } ?? "never"); \(simulation.mismatches(limit: 2))")
        withKnownIssue("a stale subtree under a rejoining mirror (see docs/DESIGN.md)") {
            #expect(report.healedAfter != nil)
        }
    }
}
