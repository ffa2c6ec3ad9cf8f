import Foundation
import Testing

extension TestFleet {
    /// Rewrites the fleet file (atomically) with only the mirrors `names`, keeping the secret, and
    /// merging `extra` keys into it.
    func rewrite(mirrors names: [String], extra: [String: Any] = [:]) throws {
        let current = try JSONSerialization.jsonObject(with: Data(contentsOf: self.fleetFile)) as! [String: Any]
        var json = current
        json["mirrors"] = self.mirrors.filter { names.contains($0.name) }.map { ["name": $0.name, "host": "127.0.0.1", "port": $0.port] }
        json.merge(extra) { $1 }
        try JSONSerialization.data(withJSONObject: json).write(to: self.fleetFile, options: .atomic)
    }

    /// Sends SIGHUP to the processes of `names`.
    func reload(_ names: [String]) {
        for name in names { if let pid = self.process(name)?.pid { kill(pid, SIGHUP) } }
    }

    /// Waits until each node of `names` is connected to its parent (or the radio).
    func waitUntilConnected(_ names: [String], within seconds: Double = 10) async throws {
        try await eventually(within: seconds, "\(names) connected") {
            for name in names {
                guard let state = (await self.status(name)?["upstream"] as? [String: Any])?["state"] as? String, state.hasPrefix("connected") else {
                    return false
                }
            }
            return true
        }
    }
}

extension IntegrationTests.Fleets {
    /// Live membership: the fleet file changed while the fleet plays, and SIGHUP.
    @Suite(.timeLimit(.minutes(4)))
    struct LiveMembershipTests {
        @Test func aMirrorJoinsAnotherDrainsAndABadFileIsRefusedOnSIGHUP() async throws {
            let radio = try await TestRadio(trackSeconds: 6, noise: true)
            defer { radio.stop() }
            let fleet = try TestFleet(upstream: radio.url, mirrors: 6)
            defer { fleet.stopAll() }
            let first = ["m1", "m2", "m3", "m4", "m5"]
            try fleet.rewrite(mirrors: first, extra: ["drainSeconds": 3])
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            // One at a time, so the tree is known: m1 and m2 under the root, m3 and m4 under m1, m5 under m2.
            for name in first {
                try fleet.startMirror(name)
                try await eventually(within: 10, "\(name) in the tree") { await fleet.tree()[name] != nil }
            }
            try await fleet.waitUntilConnected(["root"] + first)
            let initial = await fleet.tree()
            #expect(initial == ["m1": "root", "m2": "root", "m3": "m1", "m4": "m1", "m5": "m2"])

            // A mirror added to the file and started before the root reloaded is refused and retries.
            try fleet.rewrite(mirrors: first + ["m6"], extra: ["drainSeconds": 3])
            try fleet.startMirror("m6")
            try await eventually(within: 10, "m6 refused by the root") { fleet.process("m6")?.output().contains("join refused (403)") == true }
            #expect(fleet.process("root")?.output().contains("'m6' is not a mirror of this fleet") == true)
            let before = await fleet.tree()
            #expect(before["m6"] == nil)
            // SIGHUP to the running nodes: m6 joins, nobody restarts.
            fleet.reload(["root"] + first)
            try await eventually(within: 10, "m6 in the tree") { await fleet.tree()["m6"] == "m2" }
            #expect(fleet.process("root")?.output().contains("fleet.added=m6") == true)
            try await fleet.waitUntilConnected(["m6"])
            let m6Port = fleet.port(of: "m6")
            let onM6 = try await onThread { try StreamClient.fetch(port: m6Port, request: StreamClient.playerRequest(metadata: false), seconds: 3) }
            #expect(onM6.header("content-type") == "audio/mpeg")
            #expect(onM6.body.count > 16_000, "a player on the added mirror gets audio: \(onM6.body.count) bytes")
            for name in first { #expect(fleet.joins(of: name) == 1, "\(name) did not rejoin") }

            // Remove m1 (it feeds m3 and m4) while observers and a player listen on its children.
            let dummy = try ManagedProcess(
                name: "dummies",
                executable: Paths.binary("casty-dummy"),
                arguments: ["m3", "m4"].map { "http://127.0.0.1:\(fleet.port(of: $0))/" } + ["--clients", "6", "--seconds", "12", "--fleet", fleet.fleetFile.path],
                logFolder: fleet.folder
            )
            let (rootPort, m3Port, m1Port) = (fleet.root.port, fleet.port(of: "m3"), fleet.port(of: "m1"))
            let answered = (root: Latch(), m3: Latch(), m1: Latch())
            async let atRoot = onThread {
                try StreamClient.fetch(port: rootPort, request: StreamClient.playerRequest(metadata: false), seconds: 13, answered: answered.root)
            }
            async let atM3 = onThread {
                try StreamClient.fetch(port: m3Port, request: StreamClient.playerRequest(metadata: false), seconds: 11, answered: answered.m3)
            }
            // A player on m1 itself keeps it until the drain time (3 s) ends.
            async let atM1 = onThread {
                try StreamClient.fetch(port: m1Port, request: StreamClient.playerRequest(metadata: false), seconds: 15, answered: answered.m1)
            }
            try await dummy.waitUntilDummiesConnected(6)
            try await eventually(within: 10, "the three players answered") { answered.root.isSet && answered.m3.isSet && answered.m1.isSet }
            let oldFile = fleet.folder.appendingPathComponent("fleet-old.json")
            try? FileManager.default.removeItem(at: oldFile)
            try FileManager.default.copyItem(at: fleet.fleetFile, to: oldFile)
            let remaining = ["m2", "m3", "m4", "m5", "m6"]
            try fleet.rewrite(mirrors: remaining, extra: ["drainSeconds": 3])
            fleet.reload(["root", "m1"] + remaining)
            // The last mirror takes m1's place; m3 and m4 rejoin under it, from the root.
            try await eventually(within: 10, "the tree without m1") {
                await fleet.tree() == ["m6": "root", "m2": "root", "m3": "m6", "m4": "m6", "m5": "m2"]
            }
            let removedAt = Date()
            let refused = try await onThread { try StreamClient.fetch(port: m1Port, request: StreamClient.playerRequest(metadata: false), seconds: 1) }
            #expect(refused.statusLine.contains("503"), "a draining mirror takes no new player: \(refused.statusLine)")
            #expect(String(decoding: refused.body, as: UTF8.self).contains("leaving the fleet"))
            try await eventually(within: 10, "m1 to leave after draining") { fleet.process("m1")?.isRunning == false }
            let drained = Date().timeIntervalSince(removedAt)
            let m1Player = try await atM1
            #expect(m1Player.closedByServer && m1Player.body.count > 16_000, "m1's player listened until m1 left")
            #expect(fleet.process("m1")?.stop() == 0, "a drained mirror exits cleanly")
            let m1Log = fleet.process("m1")?.output() ?? ""
            #expect(m1Log.contains("draining: this mirror was removed") && m1Log.contains("drained: leaving the fleet"), "\(m1Log.suffix(2000))")
            #expect(m1Log.contains("drain.timed_out=true"), "its player kept it for the drain time")
            #expect(drained > 1.5 && drained < 8, "m1 left \(drained) s after the removal, with a drain time of 3 s")
            // Every node's own view agrees with the root's.
            let tree = await fleet.tree()
            for name in remaining {
                let status = await fleet.status(name)
                #expect(status?["parent"] as? String == tree[name], "\(name) disagrees with the root")
            }
            // The children's players heard no gap and no repeat.
            let (rootPlayer, m3Player) = try await (atRoot, atM3)
            #expect(!m3Player.closedByServer, "the player on m3 stays connected while m3 moves")
            #expect(try assertSameAudio(m3Player.body, in: rootPlayer.body, window: 16 * 1024) > 100_000)
            try await eventually(within: 20, "the dummies to finish") { !dummy.isRunning }
            let report = dummy.output()
            #expect(dummy.stop() == 0, "\(report)")
            #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")

            // m1 started again with the old file is refused.
            let again = try ManagedProcess(
                name: "m1-again",
                executable: Paths.binary("casty-mirror"),
                arguments: ["--fleet", oldFile.path, "--name", "m1"],
                logFolder: fleet.folder
            )
            defer { again.stop() }
            try await eventually(within: 10, "the removed mirror refused") { again.output().contains("join refused (403)") }
            #expect(fleet.process("root")?.output().contains("'m1' is not a mirror of this fleet") == true)
            let after = await fleet.tree()
            #expect(after["m1"] == nil)
            again.stop()

            // Bad files: each is refused with its reason, and the fleet keeps the one in use.
            let everyone = ["root"] + remaining
            let bad: [(content: String, reason: String)] = [
                ("{ not json", "not valid JSON"),
                (try String(contentsOf: fleet.fleetFile, encoding: .utf8).replacingOccurrences(of: "\(fleet.port(of: "m5"))", with: "\(fleet.port(of: "m4"))"), "which another node uses too"),
                (try String(contentsOf: fleet.fleetFile, encoding: .utf8).replacingOccurrences(of: "\"root\"", with: "\"root2\""), "the ingest changed"),
            ]
            let good = try Data(contentsOf: fleet.fleetFile)
            for (index, file) in bad.enumerated() {
                try Data(file.content.utf8).write(to: fleet.fleetFile, options: .atomic)
                fleet.reload(everyone)
                try await eventually(within: 5, "every node to refuse bad file \(index)") {
                    everyone.allSatisfy { name in
                        (fleet.process(name)?.output() ?? "").components(separatedBy: "fleet file refused").count - 1 == index + 1
                    }
                }
                #expect(fleet.process("root")?.output().contains(file.reason) == true, "the log says why: \(file.reason)")
            }
            try good.write(to: fleet.fleetFile, options: .atomic)
            // Every node refused each bad file (waited for above); 3 s of a player on m5 later, the
            // fleet is as it was.
            let m5Port = fleet.port(of: "m5")
            let onM5 = try await onThread { try StreamClient.fetch(port: m5Port, request: StreamClient.playerRequest(metadata: false), seconds: 3) }
            #expect(onM5.body.count > 16_000, "the fleet still plays after the bad files: \(onM5.body.count) bytes")
            let kept = await fleet.tree()
            #expect(kept.count == 5)
            for name in remaining { #expect(fleet.process(name)?.isRunning == true, "\(name) still runs") }

            // A secret rotation: the reloaded nodes take the new secret at once and the old one during the grace.
            try fleet.rewrite(mirrors: remaining, extra: ["drainSeconds": 3, "secret": "rotated-\(UUID().uuidString)", "secretGraceSeconds": 60])
            fleet.reload(everyone)
            try await eventually(within: 5, "every node to take the new secret") {
                everyone.allSatisfy { (fleet.process($0)?.output() ?? "").contains("fleet.secret=rotated") }
            }
            #expect(fleet.process("m5")?.stop() == 0)
            try fleet.startMirror("m5")
            try await eventually(within: 15, "m5, restarted with the new secret, back under m2") {
                guard await fleet.tree()["m5"] == "m2" else { return false }
                return ((await fleet.status("m5"))?["upstream"] as? [String: Any])?["state"] as? String == "connected to m2"
            }
            let m6URL = "http://127.0.0.1:\(fleet.port(of: "m6"))/"
            let oldSecret = try await onThread {
                try runCommand(Paths.binary("casty-dummy").path, [m6URL, "--clients", "2", "--seconds", "2", "--fleet", oldFile.path], timeout: 20)
            }
            #expect(oldSecret.status == 0, "observers signing with the old secret are accepted during the grace: \(oldSecret.output.suffix(500))")
            #expect(oldSecret.output.contains("connected=2"), "\(oldSecret.output.suffix(500))")
            for name in remaining { #expect(fleet.process(name)?.isRunning == true, "\(name) still runs") }
        }
    }
}
