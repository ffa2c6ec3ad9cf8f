import CastyTree
import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// A fleet with a standby root: the primary ingest is killed while dummy observers listen on
    /// a leaf; the standby takes over within 2 s and the leaf's listeners lose nothing; the old
    /// primary, restarted, follows the new root instead of making a second stream.
    @Suite(.timeLimit(.minutes(3)))
    struct StandbyRootTests {
        @Test func theStandbyTakesOverWithinTwoSecondsAndTheOldPrimaryFollows() async throws {
            let radio = try await TestRadio(trackSeconds: 6, noise: true)
            defer { radio.stop() }
            let fleet = try TestFleet(upstream: radio.url, mirrors: 3, standby: true)
            defer { fleet.stopAll() }
            // Observers on the leaf for the whole test; they fail on any gap or repeat.
            let (leaf, observers) = try await Self.formFleet(fleet, dummySeconds: 16)
            let dummy = try #require(observers)
            // A player on the leaf, and a reference player on the radio itself, across the takeover.
            let (radioPort, leafPort) = (radio.port, fleet.port(of: leaf))
            let answered = (reference: Latch(), player: Latch())
            async let reference = onThread {
                try StreamClient.fetch(port: radioPort, request: StreamClient.playerRequest(path: "/stream", metadata: true), seconds: 16, answered: answered.reference)
            }
            try await eventually(within: 10, "the radio to answer the reference player") { answered.reference.isSet }
            async let player = onThread {
                try StreamClient.fetch(port: leafPort, request: StreamClient.playerRequest(metadata: true), seconds: 12, answered: answered.player)
            }
            try await eventually(within: 10, "the leaf to answer its player") { answered.player.isSet }
            try await dummy.waitUntilDummiesConnected(3)
            let seqBefore = try #require(await fleet.status("root2")?["seq"] as? Int)
            #expect(seqBefore > 0, "the standby follows the numbering")

            // SIGKILL the primary: the standby is root within 2 s, in term 2.
            fleet.process("root")?.stop(signal: SIGKILL)
            let killed = Date()
            try await eventually(within: 5, "the standby to become root") { await fleet.status("root2")?["is_root"] as? Bool == true }
            let tookOver = Date().timeIntervalSince(killed)
            #expect(tookOver <= 2.0, "the standby became root \(tookOver) s after the kill")
            #expect(await fleet.status("root2")?["term"] as? Int == 2)
            // The mirrors rejoin it, and the tree is whole again.
            try await eventually(within: 10, "the 3 mirrors in the standby's tree") {
                (await fleet.status("root2")?["tree"] as? [String: String])?.count == 3
            }
            // Its first segment is whole when its own radio connection has the audio the old
            // root's next segment would have held: about when that root would have sent it.
            try await eventually(within: 5, "the standby to number on from where the primary stopped (\(seqBefore))") {
                (await fleet.status("root2")?["seq"] as? Int).map { $0 > seqBefore } == true
            }

            // The old primary comes back: it follows the standby, and is not a second root.
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            try await eventually(within: 10, "the old primary to follow the new root") {
                let status = await fleet.status("root")
                let state = (status?["upstream"] as? [String: Any])?["state"] as? String
                return status?["is_root"] as? Bool == false && status?["root"] as? String == "root2" && state?.hasPrefix("connected") == true
            }
            // Nothing to wait on: 2 s pass to show that the roles stay as they are (no second root).
            try await Task.sleep(for: .seconds(2))
            #expect(await fleet.status("root")?["is_root"] as? Bool == false)
            #expect(await fleet.status("root2")?["is_root"] as? Bool == true)
            #expect((await fleet.status("root2")?["tree"] as? [String: String])?.count == 3)

            // The leaf's observers saw every segment, in order, exactly once.
            try await eventually(within: 30, "the dummies to finish") { !dummy.isRunning }
            let report = dummy.output()
            #expect(dummy.stop() == 0, "\(report)")
            #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")
            // The leaf's player heard the radio's bytes exactly, through the takeover.
            let (referenceAudio, _) = try await reference.audioAndTitles()
            let (playedAudio, _) = try await player.audioAndTitles()
            let compared = try assertSameAudio(playedAudio, in: referenceAudio, window: 16 * 1024)
            #expect(compared > 150_000, "only \(compared) bytes of the player's \(playedAudio.count) compared")
            print("standby takeover: root2 root \(String(format: "%.2f", tookOver)) s after the SIGKILL; leaf player \(compared) bytes equal to the radio's")

            // A leaf that dies now is reported by its parent to the new root, which frees its place.
            fleet.process(leaf)?.stop(signal: SIGKILL)
            try await eventually(within: 8, "root2 to drop the dead leaf \(leaf)") {
                let tree = await fleet.status("root2")?["tree"] as? [String: String]
                return tree != nil && tree?[leaf] == nil
            }
        }
    }
}

extension IntegrationTests.Fleets.StandbyRootTests {
    /// The frozen-root case: the primary stops for 4 s (SIGSTOP); the standby takes over within
    /// 2 s of the freeze, and the primary, when it wakes as a stale root of term 1, steps down and
    /// follows the standby. The leaf's observers lose nothing.
    @Test func aFrozenPrimaryIsReplacedAndFollowsWhenItWakes() async throws {
        let radio = try await TestRadio(trackSeconds: 6, noise: true)
        defer { radio.stop() }
        let fleet = try TestFleet(upstream: radio.url, mirrors: 3, standby: true)
        defer { fleet.stopAll() }
        let dummy = try #require(try await Self.formFleet(fleet, dummySeconds: 16).dummy)
        try await dummy.waitUntilDummiesConnected(3)

        let pid = try #require(fleet.process("root")?.pid)
        kill(pid, SIGSTOP)
        let frozen = Date()
        try await eventually(within: 5, "the standby to become root") { await fleet.status("root2")?["is_root"] as? Bool == true }
        let tookOver = Date().timeIntervalSince(frozen)
        #expect(tookOver <= 2.0, "the standby became root \(tookOver) s after the freeze")
        print("standby takeover: root2 root \(String(format: "%.2f", tookOver)) s after the SIGSTOP")
        // The freeze itself lasts 4 s (the test's premise), whatever the takeover took.
        try await Task.sleep(for: .seconds(max(0, 4 - Date().timeIntervalSince(frozen))))
        kill(pid, SIGCONT)
        try await eventually(within: 5, "the woken primary to follow root2") {
            let status = await fleet.status("root")
            return status?["is_root"] as? Bool == false && status?["root"] as? String == "root2"
        }
        try await eventually(within: 10, "the 3 mirrors in the standby's tree") {
            (await fleet.status("root2")?["tree"] as? [String: String])?.count == 3
        }
        #expect(await fleet.status("root2")?["is_root"] as? Bool == true)
        #expect(fleet.process("root")?.output().contains("stepping down") == true)

        try await eventually(within: 30, "the dummies to finish") { !dummy.isRunning }
        let report = dummy.output()
        #expect(dummy.stop() == 0, "\(report)")
        #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")
    }
}

extension IntegrationTests.Fleets.StandbyRootTests {
    /// After a takeover the new root repairs its tree as the primary does: a mirror's parent is
    /// killed while the mirror is frozen; root2 moves the mirror into the hole, the mirror does not
    /// come, and root2 declares it failed once it has been silent for the repair's deadline. Woken,
    /// it rejoins where root2 places it, and its own depth is root2's view of it.
    @Test func theStandbyRootRepairsItsTree() async throws {
        let radio = try await TestRadio(trackSeconds: 6, noise: true)
        defer { radio.stop() }
        let fleet = try TestFleet(upstream: radio.url, mirrors: 3, standby: true)
        defer { fleet.stopAll() }
        try await Self.formFleet(fleet, dummySeconds: nil)
        // The standby adopts the tree it last read from the primary: let it read the whole tree.
        try await eventually(within: 10, "the standby to read the primary's whole tree") {
            fleet.process("root2")?.output().contains("tree.size=3") == true
        }
        fleet.process("root")?.stop(signal: SIGKILL)
        try await eventually(within: 5, "the standby to become root") { await fleet.status("root2")?["is_root"] as? Bool == true }
        try await eventually(within: 10, "the 3 mirrors in the standby's tree") {
            (await fleet.status("root2")?["tree"] as? [String: String])?.count == 3
        }
        // Every mirror linked to its place in root2's tree.
        try await eventually(within: 10, "every mirror linked to its parent in root2's tree") {
            guard let tree = await fleet.status("root2")?["tree"] as? [String: String], tree.count == 3 else { return false }
            for (mirror, parent) in tree {
                guard let status = await fleet.status(mirror), status["parent"] as? String == parent,
                    ((status["upstream"] as? [String: Any])?["state"] as? String)?.hasPrefix("connected") == true
                else { return false }
            }
            return true
        }
        let tree = try #require(await fleet.status("root2")?["tree"] as? [String: String])
        let leaf = try #require(tree.keys.first { TestFleet.depth(of: $0, in: tree) == 2 })
        let parent = try #require(tree[leaf])
        let other = try #require(tree.keys.first { $0 != leaf && $0 != parent })

        // The leaf's parent dies and the leaf freezes: root2 moves the leaf into the parent's place.
        let leafPID = try #require(fleet.process(leaf)?.pid)
        kill(leafPID, SIGSTOP)
        fleet.process(parent)?.stop(signal: SIGKILL)
        let faulted = Date()
        try await eventually(within: 8, "root2 to drop \(parent) and move \(leaf) into its place") {
            let tree = await fleet.status("root2")?["tree"] as? [String: String]
            return tree?[parent] == nil && tree?[leaf] == "root2"
        }
        // The repair declares the silent leaf failed.
        try await eventually(within: PendingRejoins.deadline + 8, "root2's repair to declare the frozen \(leaf) failed") {
            (await fleet.status("root2")?["tree"] as? [String: String]) == [other: "root2"]
        }
        print("standby repair: \(leaf) declared failed \(String(format: "%.1f", Date().timeIntervalSince(faulted))) s after it froze")

        // Woken, it rejoins; its own depth is the root's view of it.
        kill(leafPID, SIGCONT)
        try await eventually(within: 15, "\(leaf) to rejoin root2's tree at the depth root2 gives it") {
            guard let tree = await fleet.status("root2")?["tree"] as? [String: String], tree.count == 2, tree[leaf] != nil,
                let own = await fleet.status(leaf)?["depth"] as? Int
            else { return false }
            return own == TestFleet.depth(of: leaf, in: tree)
        }
        #expect(await fleet.status("root2")?["is_root"] as? Bool == true)
    }
}

extension IntegrationTests.Fleets.StandbyRootTests {
    /// Starts the primary (root in term 1), the standby (following it, its radio connected) and
    /// the mirrors, and waits for the whole tree; returns a leaf at depth 2 and, given
    /// `dummySeconds`, `casty-dummy` observers on it for that long, which fail on any gap or repeat.
    @discardableResult
    static func formFleet(_ fleet: TestFleet, dummySeconds: Int?) async throws -> (leaf: String, dummy: ManagedProcess?) {
        try fleet.startRoot()
        try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
        try await eventually(within: 10, "the primary to be root in term 1") {
            let status = await fleet.status("root")
            return status?["is_root"] as? Bool == true && status?["term"] as? Int == 1
        }
        try fleet.startStandby()
        try await fleet.waitUntilAnswering("root2", process: fleet.process("root2"))
        try await eventually(within: 10, "the standby to follow the primary") {
            let status = await fleet.status("root2")
            let state = (status?["upstream"] as? [String: Any])?["state"] as? String
            return status?["is_root"] as? Bool == false && status?["root"] as? String == "root" && state?.hasPrefix("connected") == true
        }
        for mirror in fleet.mirrors { try fleet.startMirror(mirror.name) }
        try await eventually(within: 20, "all \(fleet.mirrors.count) mirrors in the tree") { await fleet.tree().count == fleet.mirrors.count }
        try await fleet.waitUntilConnected()
        let tree = await fleet.tree()
        let leaf = try #require(tree.keys.first { TestFleet.depth(of: $0, in: tree) == 2 })
        guard let dummySeconds else { return (leaf, nil) }
        let dummy = try ManagedProcess(
            name: "dummies",
            executable: Paths.binary("casty-dummy"),
            arguments: ["http://127.0.0.1:\(fleet.port(of: leaf))/", "--clients", "3", "--seconds", "\(dummySeconds)", "--fleet", fleet.fleetFile.path],
            logFolder: fleet.folder
        )
        return (leaf, dummy)
    }
}
