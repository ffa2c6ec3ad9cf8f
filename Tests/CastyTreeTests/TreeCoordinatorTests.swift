import CastyTree
import Foundation
import Testing

/// What must hold of a ``TreeCoordinator`` at every moment; the simulation checks it too.
enum TreeInvariants {
    /// The first few broken rules, described; empty when the tree is a compact heap of minimum
    /// depth.
    static func problems(of tree: TreeCoordinator, limit: Int = 5) -> [String] {
        var problems: [String] = []
        let members = tree.members
        if members.count != tree.count { problems.append("members has \(members.count) names, count is \(tree.count)") }
        let nodes = [tree.root] + members
        var childrenSeen = 0
        for (position, node) in nodes.enumerated() where problems.count < limit {
            if tree.position(of: node) != position { problems.append("\(node) is listed at \(position), placed at \(String(describing: tree.position(of: node)))") }
            let expectedParent = position == 0 ? nil : nodes[(position - 1) / tree.fanout]
            if tree.parent(of: node) != expectedParent { problems.append("\(node)'s parent is \(String(describing: tree.parent(of: node))), not \(String(describing: expectedParent))") }
            let children = tree.children(of: node)
            if children.count > tree.fanout { problems.append("\(node) has \(children.count) children") }
            for child in children where tree.parent(of: child) != node { problems.append("\(child) is a child of \(node) but its parent is \(String(describing: tree.parent(of: child)))") }
            childrenSeen += children.count
        }
        if problems.isEmpty, childrenSeen != tree.count { problems.append("\(childrenSeen) parent links for \(tree.count) mirrors") }
        let minimum = TreeCoordinator.minimumDepth(mirrors: tree.count, fanout: tree.fanout)
        if tree.maxDepth != minimum { problems.append("depth \(tree.maxDepth), minimum \(minimum)") }
        if let deepest = nodes.last, tree.depth(of: deepest) != tree.maxDepth { problems.append("the last node is not the deepest") }
        return problems
    }
}

@Suite struct TreeCoordinatorTests {
    let mirrors: Set<String> = ["a", "b", "c", "d", "e", "f", "g"]

    /// A fanout-2 tree with a…g joined in order: root→a,b; a→c,d; b→e,f; c→g.
    func sevenInOrder() -> TreeCoordinator {
        var tree = TreeCoordinator(root: "ingest", fanout: 2, members: self.mirrors)
        for name in ["a", "b", "c", "d", "e", "f", "g"] { _ = tree.join(name) }
        return tree
    }

    @Test func joinsInAnyOrderFormAHeap() {
        var tree = TreeCoordinator(root: "ingest", fanout: 2, members: self.mirrors)
        let order = ["e", "b", "g", "a", "c", "f", "d"]
        let decisions = order.map { tree.join($0) }
        #expect(decisions == [.accept, .accept, .redirect(to: "e"), .redirect(to: "e"), .redirect(to: "b"), .redirect(to: "b"), .redirect(to: "g")])
        #expect(tree.members == order)
        #expect(tree.children(of: "ingest") == ["e", "b"])
        #expect(tree.children(of: "e") == ["g", "a"])
        #expect(tree.children(of: "b") == ["c", "f"])
        #expect(tree.children(of: "g") == ["d"])
        #expect(tree.parent(of: "d") == "g")
        #expect(tree.parent(of: "ingest") == nil)
        #expect(tree.desiredParent(of: "c") == "b")
        #expect(tree.depth(of: "ingest") == 0)
        #expect(tree.depth(of: "b") == 1)
        #expect(tree.depth(of: "d") == 3)
        #expect(tree.maxDepth == 3)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func refusesNonMembersAndTheRoot() {
        var tree = TreeCoordinator(root: "ingest", fanout: 2, members: ["a", "ingest"])
        guard case .refuse = tree.join("mallory") else {
            Issue.record("a stranger was let in")
            return
        }
        guard case .refuse = tree.join("ingest") else {
            Issue.record("the root joined itself")
            return
        }
        #expect(tree.count == 0)
        #expect(tree.parent(of: "mallory") == nil)
        #expect(tree.depth(of: "mallory") == nil)
        #expect(tree.children(of: "mallory").isEmpty)
        #expect(tree.join("a") == .accept)
        #expect(tree.members == ["a"])
    }

    @Test func rejoinOfAPlacedMemberGetsTheSameParent() {
        var tree = self.sevenInOrder()
        #expect(tree.join("g") == .redirect(to: "c"))
        #expect(tree.join("g") == .redirect(to: "c"))
        #expect(tree.join("b") == .accept)
        #expect(tree.count == 7)
        #expect(tree.members == ["a", "b", "c", "d", "e", "f", "g"])
    }

    @Test func failedInnerNodeIsReplacedByTheLastAndItsChildrenRejoinTheMovedNode() {
        var tree = self.sevenInOrder()
        let moves = tree.failed("a")
        #expect(moves == [
            .init(node: "g", newParent: "ingest"),
            .init(node: "c", newParent: "g"),
            .init(node: "d", newParent: "g"),
        ])
        #expect(!tree.isPlaced("a"))
        #expect(tree.children(of: "ingest") == ["g", "b"])
        #expect(tree.children(of: "g") == ["c", "d"])
        #expect(tree.children(of: "c").isEmpty)
        // Carrying out the moves: each node joins again and is sent where the move said.
        #expect(tree.join("g") == .accept)
        #expect(tree.join("c") == .redirect(to: "g"))
        #expect(tree.join("d") == .redirect(to: "g"))
        #expect(tree.count == 6)
        #expect(tree.maxDepth == 2)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func failingTheOtherChildOfTheRootMovesTheLastUnderTheRoot() {
        var tree = self.sevenInOrder()
        #expect(tree.failed("b") == [
            .init(node: "g", newParent: "ingest"),
            .init(node: "e", newParent: "g"),
            .init(node: "f", newParent: "g"),
        ])
        #expect(tree.parent(of: "g") == "ingest")
        #expect(tree.parent(of: "e") == "g")
        #expect(tree.children(of: "c").isEmpty)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func failingALeafMovesOnlyTheLastNode() {
        var tree = self.sevenInOrder()
        #expect(tree.failed("e") == [.init(node: "g", newParent: "b")])
        #expect(tree.children(of: "b") == ["g", "f"])
        #expect(tree.maxDepth == 2)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func failingTheLastNodeMovesNobody() {
        var tree = self.sevenInOrder()
        #expect(tree.failed("g").isEmpty)
        #expect(tree.children(of: "c").isEmpty)
        #expect(tree.count == 6)
        #expect(tree.maxDepth == 2)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func whenTheLastIsTheFailedNodesOwnChildItOnlyMovesUp() {
        var tree = TreeCoordinator(root: "ingest", fanout: 2, members: ["a", "b", "c"])
        for name in ["a", "b", "c"] { _ = tree.join(name) }
        #expect(tree.failed("a") == [.init(node: "c", newParent: "ingest")])
        #expect(tree.children(of: "ingest") == ["c", "b"])
        #expect(tree.children(of: "c").isEmpty)
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func aFailedNodeThatJoinsAgainIsPlacedAtTheEnd() {
        var tree = self.sevenInOrder()
        _ = tree.failed("a")
        #expect(tree.join("a") == .redirect(to: "c"), "position 7's parent is position 3, which c still holds")
        #expect(tree.position(of: "a") == 7)
        #expect(tree.left("d") == [.init(node: "a", newParent: "g")])
        #expect(TreeInvariants.problems(of: tree).isEmpty)
    }

    @Test func failingTheRootOrAStrangerChangesNothing() {
        var tree = self.sevenInOrder()
        #expect(tree.failed("ingest").isEmpty)
        #expect(tree.failed("mallory").isEmpty)
        #expect(tree.left("mallory").isEmpty)
        #expect(tree.count == 7)
        _ = tree.failed("g")
        #expect(tree.failed("g").isEmpty, "failing twice is harmless")
        #expect(tree.count == 6)
    }

    @Test func emptyAndSingleNodeTrees() {
        var tree = TreeCoordinator(root: "ingest", fanout: 2, members: ["a"])
        #expect(tree.maxDepth == 0)
        #expect(tree.members.isEmpty)
        _ = tree.join("a")
        #expect(tree.maxDepth == 1)
        #expect(tree.failed("a").isEmpty)
        #expect(tree.maxDepth == 0)
        #expect(tree.children(of: "ingest").isEmpty)
    }

    @Test func minimumDepthMatchesTheBinaryFormula() {
        for mirrors in 0...5000 {
            let formula = Int((log2(Double(mirrors + 2))).rounded(.up)) - 1
            #expect(TreeCoordinator.minimumDepth(mirrors: mirrors, fanout: 2) == formula, "\(mirrors) mirrors")
        }
    }

    @Test func minimumDepthForOtherFanouts() {
        #expect(TreeCoordinator.minimumDepth(mirrors: 0, fanout: 3) == 0)
        #expect(TreeCoordinator.minimumDepth(mirrors: 3, fanout: 3) == 1)
        #expect(TreeCoordinator.minimumDepth(mirrors: 4, fanout: 3) == 2)
        #expect(TreeCoordinator.minimumDepth(mirrors: 12, fanout: 3) == 2)
        #expect(TreeCoordinator.minimumDepth(mirrors: 13, fanout: 3) == 3)
        #expect(TreeCoordinator.minimumDepth(mirrors: 7, fanout: 1) == 7)
        #expect(TreeCoordinator.minimumDepth(mirrors: Int.max - 1, fanout: 2) == 62)
        #expect(TreeCoordinator.minimumDepth(mirrors: Int.max - 1, fanout: Int.max) == 1)
        #expect(TreeCoordinator.minimumDepth(mirrors: Int.max, fanout: 2) == 63)
    }

    @Test(arguments: [1, 3, 4])
    func otherFanoutsStayCompactThroughFailures(fanout: Int) {
        let names = (0..<40).map { "m\($0)" }
        var tree = TreeCoordinator(root: "ingest", fanout: fanout, members: Set(names))
        for name in names { _ = tree.join(name) }
        #expect(TreeInvariants.problems(of: tree).isEmpty)
        for (step, name) in names.enumerated() where step % 3 == 0 {
            for move in tree.failed(name) {
                #expect(tree.parent(of: move.node) == move.newParent)
            }
            #expect(TreeInvariants.problems(of: tree).isEmpty, "after failing \(name)")
        }
        #expect(tree.count == 26)
        #expect(tree.maxDepth == TreeCoordinator.minimumDepth(mirrors: 26, fanout: fanout))
    }
}
