import CastyFuzzDrivers
import CastyTree
import CastyTestSupport
import Testing

/// A fleet without sockets: the root's ``TreeCoordinator`` plus every node's ``ChildSlots``, and
/// the parent links the nodes actually hold. A joiner asks the root, then follows redirects from
/// node to node until one accepts it, as a real mirror would.
private struct SimulatedFleet {
    var coordinator: TreeCoordinator
    /// The slots of every live node, the root included.
    var slots: [String: ChildSlots]
    /// The parent each live mirror is attached to.
    var parent: [String: String] = [:]
    /// The first few things that went wrong, for the test to report.
    var problems: [String] = []
    /// How many things went wrong.
    var problemCount = 0

    init(root: String, fanout: Int, mirrors: [String]) {
        self.coordinator = TreeCoordinator(root: root, fanout: fanout, members: Set(mirrors))
        self.slots = [root: ChildSlots(fanout: fanout)]
    }

    var root: String { self.coordinator.root }

    mutating func record(_ problem: String) {
        self.problemCount += 1
        if self.problems.count < 5 { self.problems.append(problem) }
    }

    /// `name` joins (or rejoins) the tree; returns the redirects it followed.
    mutating func connect(_ name: String) -> Int {
        var redirects = 0
        var target: String
        switch self.coordinator.join(name) {
        case .accept: target = self.root
        case .redirect(let to):
            target = to
            redirects += 1
        case .refuse(let reason):
            self.record("\(name) refused: \(reason)")
            return 0
        }
        if self.slots[name] == nil { self.slots[name] = ChildSlots(fanout: self.coordinator.fanout) }
        while true {
            guard redirects <= 64 else {
                self.record("\(name) was redirected \(redirects) times")
                return redirects
            }
            guard let decision = self.slots[target]?.join(name) else {
                self.record("\(name) was sent to \(target), which is not live")
                return redirects
            }
            switch decision {
            case .accept:
                self.parent[name] = target
                return redirects
            case .redirect(let to):
                target = to
                redirects += 1
            }
        }
    }

    /// `name` dies: its parent drops it, the coordinator is told, and the fleet carries out the
    /// moves (each moved node detaches and joins again). Returns the moves.
    mutating func fail(_ name: String) -> [TreeCoordinator.Move] {
        if let parent = self.parent.removeValue(forKey: name) { self.slots[parent]?.remove(name) }
        self.slots[name] = nil
        let moves = self.coordinator.failed(name)
        for move in moves {
            if let old = self.parent.removeValue(forKey: move.node) { self.slots[old]?.remove(move.node) }
            _ = self.connect(move.node)
            if self.parent[move.node] != move.newParent {
                self.record("\(move.node) attached to \(String(describing: self.parent[move.node])), the move said \(move.newParent)")
            }
        }
        return moves
    }

    /// Whether the links the nodes hold are the coordinator's plan; the first few mismatches,
    /// described.
    func mismatches(limit: Int = 5) -> [String] {
        var found: [String] = []
        for node in [self.root] + self.coordinator.members where found.count < limit {
            if node != self.root, self.parent[node] != self.coordinator.parent(of: node) {
                found.append("\(node) is attached to \(String(describing: self.parent[node])), planned under \(String(describing: self.coordinator.parent(of: node)))")
            }
            // With every parent link as planned, a node feeds exactly its planned children when it
            // feeds as many, all of them attached to it.
            guard let held = self.slots[node]?.children else {
                found.append("\(node) is placed but has no slots")
                continue
            }
            let planned = self.coordinator.children(of: node)
            if held.count != planned.count || held.contains(where: { self.parent[$0] != node }) {
                found.append("\(node) feeds \(held), planned \(planned)")
            }
        }
        if self.parent.count != self.coordinator.count { found.append("\(self.parent.count) attached mirrors, \(self.coordinator.count) planned") }
        return found
    }
}

/// Serialized, and each run on a thread of its own: a simulation keeps a core busy for seconds,
/// which on the cooperative pool would starve the other suites' asynchronous tests.
@Suite(.serialized) struct TreeSimulationTests {
    /// Joins `mirrors` in random order, then fails random nodes (one per step), each of which
    /// rejoins 1…50 steps later, interleaved with the other failures. Checks the depth after every
    /// failure and rejoin, every invariant every 100 steps and at the end, and prints a report.
    @Test(arguments: [(10_000, 2), (100_000, 2), (10_000, 3)])
    func randomJoinsFailuresAndRejoinsKeepTheTreeBalanced(mirrors: Int, fanout: Int) async throws {
        try await onDedicatedThread { Self.churn(mirrors: mirrors, fanout: fanout) }
    }

    static func churn(mirrors: Int, fanout: Int) {
        let started = ContinuousClock.now
        var rng = SplitMix64(seed: UInt64(mirrors * 31 + fanout))
        let names = (0..<mirrors).map { "mirror-\($0)" }
        var fleet = SimulatedFleet(root: "ingest", fanout: fanout, mirrors: names)

        // Everyone joins, in random order.
        var joinRedirects = 0
        var maxJoinRedirects = 0
        for name in names.shuffled(using: &rng) {
            let redirects = fleet.connect(name)
            joinRedirects += redirects
            maxJoinRedirects = max(maxJoinRedirects, redirects)
        }
        let minimum = TreeCoordinator.minimumDepth(mirrors: mirrors, fanout: fanout)
        let joinedDepth = fleet.coordinator.maxDepth
        #expect(joinedDepth == minimum)
        #expect(TreeInvariants.problems(of: fleet.coordinator).isEmpty)
        #expect(fleet.mismatches().isEmpty)
        #expect(maxJoinRedirects <= 1, "a joiner is sent straight to its parent")
        let joinedHistogram = Self.childrenHistogram(fleet.coordinator)
        #expect(joinedHistogram.count <= fanout + 1, "no node has more than \(fanout) children")

        // Churn: random failures, each failed node rejoining 1…50 steps later.
        let failures = min(mirrors / 10, 1000)
        var alive = names
        var aliveIndex = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var rejoinsDue: [Int: [String]] = [:]
        var failed = 0
        var rejoined = 0
        var moves = 0
        var maxMoves = 0
        var rejoinRedirects = 0
        var maxRejoinRedirects = 0
        var events = 0
        var checks = 0
        var step = 0
        func afterEvent(_ fleet: SimulatedFleet) {
            events += 1
            let depth = fleet.coordinator.maxDepth
            let minimum = TreeCoordinator.minimumDepth(mirrors: fleet.coordinator.count, fanout: fanout)
            #expect(depth == minimum, "event \(events)")
        }
        while failed < failures || !rejoinsDue.isEmpty {
            if failed < failures {
                let victim = alive[Int.random(in: 0..<alive.count, using: &rng)]
                // Swap-remove from the live list.
                let index = aliveIndex.removeValue(forKey: victim)!
                let last = alive.removeLast()
                if last != victim {
                    alive[index] = last
                    aliveIndex[last] = index
                }
                let done = fleet.fail(victim)
                failed += 1
                moves += done.count
                maxMoves = max(maxMoves, done.count)
                for move in done {
                    #expect(fleet.coordinator.children(of: move.newParent).count <= fanout)
                }
                rejoinsDue[step + Int.random(in: 1...50, using: &rng), default: []].append(victim)
                afterEvent(fleet)
            }
            for name in rejoinsDue.removeValue(forKey: step) ?? [] {
                let redirects = fleet.connect(name)
                rejoinRedirects += redirects
                maxRejoinRedirects = max(maxRejoinRedirects, redirects)
                aliveIndex[name] = alive.count
                alive.append(name)
                rejoined += 1
                #expect(fleet.coordinator.position(of: name) == fleet.coordinator.count, "a rejoining node goes to the end")
                afterEvent(fleet)
            }
            if step % 100 == 0 {
                checks += 1
                #expect(TreeInvariants.problems(of: fleet.coordinator).isEmpty, "step \(step)")
                #expect(fleet.mismatches().isEmpty, "step \(step)")
            }
            step += 1
        }

        #expect(rejoined == failures)
        #expect(fleet.coordinator.count == mirrors)
        #expect(fleet.coordinator.maxDepth == minimum)
        #expect(TreeInvariants.problems(of: fleet.coordinator).isEmpty)
        #expect(fleet.mismatches().isEmpty)
        #expect(fleet.problemCount == 0, "first problems: \(fleet.problems)")
        #expect(maxRejoinRedirects <= 1)
        #expect(maxMoves <= fanout + 1, "the moved node and the failed node's children")
        let finalHistogram = Self.childrenHistogram(fleet.coordinator)
        #expect(finalHistogram.count <= fanout + 1)

        let joins = Double(mirrors)
        let elapsed = ContinuousClock.now - started
        print(
            "tree simulation: \(mirrors) mirrors, fanout \(fanout): depth \(joinedDepth) (minimum \(minimum)),"
                + " children per node \(Self.describe(joinedHistogram)),"
                + " redirects per join avg \(Self.format(Double(joinRedirects) / joins)) max \(maxJoinRedirects);"
                + " \(failures) failures + \(rejoined) rejoins over \(step) steps:"
                + " moves per failure avg \(Self.format(Double(moves) / Double(max(failures, 1)))) max \(maxMoves),"
                + " redirects per rejoin avg \(Self.format(Double(rejoinRedirects) / Double(max(rejoined, 1)))) max \(maxRejoinRedirects),"
                + " depth after \(fleet.coordinator.maxDepth), children per node \(Self.describe(finalHistogram)),"
                + " \(checks) full checks, \(elapsed)"
        )
    }

    /// How many nodes (the root included) have 0, 1, 2, … children.
    static func childrenHistogram(_ tree: TreeCoordinator) -> [Int] {
        var histogram: [Int] = []
        for node in [tree.root] + tree.members {
            let count = tree.children(of: node).count
            while histogram.count <= count { histogram.append(0) }
            histogram[count] += 1
        }
        return histogram
    }

    static func describe(_ histogram: [Int]) -> String {
        histogram.enumerated().map { "\($0):\($1)" }.joined(separator: " ")
    }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
