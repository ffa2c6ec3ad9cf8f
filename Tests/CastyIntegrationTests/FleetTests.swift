import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// A real fleet: the ingest and 7 mirrors on loopback, relaying the local test radio; dummy
    /// observers on the leaves check every segment number while a mirror is killed and another frozen.
    @Suite(.timeLimit(.minutes(4)))
    struct FleetTests {
        @Test func sevenMirrorsStayBalancedAndHealWithoutLoss() async throws {
            let radio = try await TestRadio(trackSeconds: 6)
            defer { radio.stop() }
            let fleet = try TestFleet(upstream: radio.url, mirrors: 7)
            defer { fleet.stopAll() }
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            // Mirrors join in a random order.
            for mirror in fleet.mirrors.shuffled() { try fleet.startMirror(mirror.name) }
            try await eventually(within: 20, "all 7 mirrors in the tree") { await fleet.tree().count == 7 }
            try await fleet.waitUntilConnected()

            // Minimum depth (ceil(log2(7+2)) - 1 = 3), at most 2 children per node, and every node's own
            // view of its parent agrees with the root's.
            let tree = await fleet.tree()
            #expect(Set(tree.keys) == Set(fleet.mirrors.map(\.name)))
            #expect(tree.keys.map { TestFleet.depth(of: $0, in: tree) }.max() == 3)
            let childCounts = Dictionary(grouping: tree.values, by: { $0 }).mapValues(\.count)
            #expect(childCounts.values.allSatisfy { $0 <= 2 }, "\(childCounts)")
            for mirror in fleet.mirrors {
                let status = await fleet.status(mirror.name)
                #expect(status?["parent"] as? String == tree[mirror.name], "\(mirror.name)")
                #expect(status?["depth"] as? Int == TestFleet.depth(of: mirror.name, in: tree))
            }

            // Observers on every leaf for the whole test; they fail on any gap or repeat.
            let leaves = fleet.mirrors.map(\.name).filter { name in !tree.values.contains(name) }
            let dummy = try ManagedProcess(
                name: "dummies",
                executable: Paths.binary("casty-dummy"),
                arguments: leaves.map { "http://127.0.0.1:\(fleet.port(of: $0))/" } + ["--clients", "\(leaves.count * 3)", "--seconds", "26", "--fleet", fleet.fleetFile.path],
                logFolder: fleet.folder
            )
            let joinsBefore = Dictionary(uniqueKeysWithValues: fleet.mirrors.map { ($0.name, fleet.joins(of: $0.name)) })
            try await dummy.waitUntilDummiesConnected(leaves.count * 3)

            // Kill an inner mirror (one with children).
            let inner = tree.values.filter { $0 != "root" }
            let victim = inner.sorted().first!
            let orphans = tree.filter { $0.value == victim }.map(\.key)
            let grandchildren = tree.filter { orphans.contains($0.value) }.map(\.key)
            fleet.process(victim)?.stop(signal: SIGKILL)
            try await eventually(within: 8, "the killed mirror's children to rejoin") {
                orphans.allSatisfy { fleet.joins(of: $0) > joinsBefore[$0]! }
            }
            try await eventually(within: 10, "the tree healed: 6 mirrors, without the dead one") {
                let tree = await fleet.tree()
                return tree[victim] == nil && tree.count == 6 && tree.keys.map { TestFleet.depth(of: $0, in: tree) }.max() == 2
            }
            var healed = await fleet.tree()
            #expect(healed[victim] == nil, "the dead mirror must leave the tree: \(healed)")
            #expect(healed.count == 6)
            #expect(healed.keys.map { TestFleet.depth(of: $0, in: healed) }.max() == 2, "6 mirrors fit in depth 2: \(healed)")
            // The subtree does not scatter: grandchildren stay with their parents, except the one
            // mirror the root moves into the hole to keep the tree complete.
            let relocated = Set(fleet.relocations())
            for name in grandchildren where !relocated.contains(name) {
                #expect(fleet.joins(of: name) == joinsBefore[name], "grandchild \(name) must not rejoin: its parent stayed up")
            }
            #expect(relocated.count <= 1, "one mirror moves per failure: \(relocated)")
            // Every mirror's own place (parent and depth) agrees with the root's tree (issue 14: the
            // moved mirror's children kept its old depth and path).
            try await eventually(within: 2, "every mirror's own place to agree with the root's tree after the kill") { await Self.placesAgree(fleet) }

            // Freeze another inner mirror for 4 s, then let it go on.
            let frozen = healed.values.filter { $0 != "root" && $0 != victim }.sorted().first!
            let joinsBeforeFreeze = Dictionary(uniqueKeysWithValues: fleet.mirrors.map { ($0.name, fleet.joins(of: $0.name)) })
            let frozenOrphans = healed.filter { $0.value == frozen }.map(\.key)
            if let pid = fleet.process(frozen)?.pid { kill(pid, SIGSTOP) }
            // The freeze itself: 4 s, far longer than a parent may stay silent.
            try await Task.sleep(for: .seconds(4))
            if let pid = fleet.process(frozen)?.pid { kill(pid, SIGCONT) }
            for name in frozenOrphans {
                #expect(fleet.joins(of: name) > joinsBeforeFreeze[name]!, "\(name) must leave its frozen parent")
            }
            try await eventually(within: 10, "the frozen mirror back in the tree") { await fleet.tree()[frozen] != nil }
            try await eventually(within: 10, "the tree whole again, at minimum depth") {
                let tree = await fleet.tree()
                return tree.count == 6 && tree.keys.map { TestFleet.depth(of: $0, in: tree) }.max() == 2
            }
            healed = await fleet.tree()
            #expect(healed.count == 6)
            #expect(healed.keys.map { TestFleet.depth(of: $0, in: healed) }.max() == 2, "back to minimum depth: \(healed)")
            // One parent at a time: no node is a child of two parents, none has more than two children.
            #expect(Dictionary(grouping: healed.values, by: { $0 }).values.allSatisfy { $0.count <= 2 })
            for name in healed.keys {
                let status = await fleet.status(name)
                #expect(status?["parent"] as? String == healed[name], "\(name) disagrees with the root")
            }
            try await eventually(within: 2, "every mirror's own place to agree with the root's tree after the freeze") { await Self.placesAgree(fleet) }

            // The observers saw every segment, in order, exactly once.
            try await eventually(within: 40, "the dummies to finish") { !dummy.isRunning }
            let report = dummy.output()
            #expect(dummy.stop() == 0, "\(report)")
            #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")

            // A dead leaf has no child to report it: its parent does, and the root frees its place.
            let current = await fleet.tree()
            let leaf = try #require(current.keys.filter { name in !current.values.contains(name) }.sorted().first)
            fleet.process(leaf)?.stop(signal: SIGKILL)
            try await eventually(within: 8, "the root to drop the dead leaf \(leaf)") { await fleet.tree()[leaf] == nil }
            try await eventually(within: 10, "5 mirrors placed again, at minimum depth") {
                let tree = await fleet.tree()
                return tree.count == 5 && tree.keys.map { TestFleet.depth(of: $0, in: tree) }.max() == 2
            }
            let final = await fleet.tree()
            #expect(final.count == 5)
            #expect(final.keys.map { TestFleet.depth(of: $0, in: final) }.max() == 2, "5 mirrors fit in depth 2: \(final)")

            // A mirror stopped on purpose tells the root before it exits: its place is free at
            // once, not 1.5 s later on its parent's loss report.
            let leaving = try #require(final.keys.sorted().first)
            _ = fleet.process(leaving)?.stop(signal: SIGTERM)
            #expect(await fleet.tree()[leaving] == nil, "the root dropped \(leaving) before it exited")
            try await eventually(within: 5, "the 4 others placed again") { await fleet.tree().count == 4 }
            try await eventually(within: 2, "every mirror's own place to agree after the leave") { await Self.placesAgree(fleet) }
        }

        /// Whether every placed mirror's own `/status.json` has the parent and depth of the root's tree.
        static func placesAgree(_ fleet: TestFleet) async -> Bool {
            let tree = await fleet.tree()
            for name in tree.keys {
                let status = await fleet.status(name)
                guard status?["parent"] as? String == tree[name], status?["depth"] as? Int == TestFleet.depth(of: name, in: tree) else { return false }
            }
            return !tree.isEmpty
        }
    }

    /// `scripts/dummies.sh` with 1000 dummy clients spread over a fleet.
    @Suite(.timeLimit(.minutes(3)))
    struct FleetLoadTests {
        /// A player on a leaf two hops down hears, byte for byte, what a player on the ingest hears.
        @Test func aLeafPlayerGetsTheIngestsAudioByteForByte() async throws {
            let (upstream, fleet) = try await TestFleet.running(mirrors: 3)
            defer {
                fleet.stopAll()
                upstream.process.stop()
            }
            let tree = await fleet.tree()
            let leaf = try #require(tree.keys.first { TestFleet.depth(of: $0, in: tree) == 2 })
            let (rootPort, leafPort) = (fleet.root.port, fleet.port(of: leaf))
            async let atRoot = onThread { try StreamClient.fetch(port: rootPort, request: StreamClient.playerRequest(metadata: true), seconds: 9) }
            async let atLeaf = onThread { try StreamClient.fetch(port: leafPort, request: StreamClient.playerRequest(metadata: true), seconds: 8) }
            let (root, leafPlayer) = try await (atRoot, atLeaf)
            #expect(leafPlayer.header("content-type") == "audio/mpeg")
            #expect(leafPlayer.header("icy-metaint") == "16000")
            let (rootAudio, rootTitles) = try root.audioAndTitles()
            let (leafAudio, leafTitles) = try leafPlayer.audioAndTitles()
            #expect(try assertSameAudio(leafAudio, in: rootAudio, window: 16 * 1024) > 60_000)
            #expect(!Set(leafTitles).isDisjoint(with: Set(rootTitles)), "leaf titles \(leafTitles), root titles \(rootTitles)")
        }

        @Test func aThousandDummiesOverTheFleetSeeNoGap() async throws {
            let (upstream, fleet) = try await TestFleet.running(mirrors: 3)
            defer {
                fleet.stopAll()
                upstream.process.stop()
            }

            let script = Paths.script("dummies.sh").path
            let fleetPath = fleet.fleetFile.path
            let bin = Paths.binaries.path
            let result = try await onThread {
                try runCommand("/bin/bash", [script, "1000", fleetPath, "8"], environment: ["CASTY_BIN": bin], timeout: 60)
            }
            #expect(result.status == 0, "\(result.output.suffix(2000))")
            #expect(result.output.contains("clients=1000 connected=1000"), "\(result.output.suffix(500))")
            #expect(result.output.contains("gaps=0 missing=0 repeats=0"), "\(result.output.suffix(500))")
            #expect(result.output.contains("failed=0"))
        }
    }

    /// A restarted ingest starts a new stream identity; every mirror must resync to it.
    @Suite(.timeLimit(.minutes(3)))
    struct FleetRestartTests {
        @Test func mirrorsResyncToARestartedIngestAndPlayersStay() async throws {
            let (upstream, fleet) = try await TestFleet.running(mirrors: 3)
            defer {
                fleet.stopAll()
                upstream.process.stop()
            }
            let oldStream = try #require(await fleet.status("root")?["stream"] as? String)

            let leafPort = fleet.port(of: "m3")
            let answered = Latch()
            async let player = onThread {
                try StreamClient.fetch(port: leafPort, request: StreamClient.playerRequest(metadata: true), seconds: 14, answered: answered)
            }
            try await eventually(within: 10, "the player on m3 answered") { answered.isSet }
            #expect(fleet.process("root")?.stop() == 0, "the ingest exits cleanly on SIGTERM")
            try fleet.startRoot()
            try await eventually(within: 10, "a new stream identity at the root") {
                guard let stream = await fleet.status("root")?["stream"] as? String else { return false }
                return stream != oldStream
            }
            let newStream = try #require(await fleet.status("root")?["stream"] as? String)
            try await eventually(within: 15, "every mirror to follow the new stream") {
                for mirror in fleet.mirrors where await fleet.status(mirror.name)?["stream"] as? String != newStream { return false }
                return true
            }
            try await eventually(within: 15, "the tree to be whole again") { await fleet.tree().count == 3 }
            let received = try await player
            #expect(!received.closedByServer, "players stay connected through an ingest restart")
            #expect(received.header("content-type") == "audio/mpeg", "a mirror's players get the radio's content type")
            #expect(received.header("icy-name") == "Casty SHOUTcast Test")
            let (audio, _) = try received.audioAndTitles()
            let late = received.timeline.last?.bodyBytes ?? 0
            let early = received.timeline.last { $0.seconds < 4 }?.bodyBytes ?? 0
            #expect(late > early + 32_000, "audio resumed after the restart (\(late - early) bytes after second 4)")
            #expect(audio.count > 100_000)
        }
    }
}
