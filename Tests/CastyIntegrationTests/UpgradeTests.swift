import CastyHandover
import CastyServer
import Foundation
import NIOCore
import Testing

extension IntegrationTests.Fleets {
    /// Upgrades in place (`--take-over`): the new binary takes the node's listening socket, its
    /// players and child peers, so that no listener loses a byte or its connection.
    @Suite(.timeLimit(.minutes(5)))
    struct UpgradeTests {
        /// During one 60 s recording, a mirror with 200 listeners and a child mirror is upgraded to
        /// another build, then the ingest is: every player's audio equals the radio's byte for
        /// byte, no player's connection is closed, the observers see no gap and no repeat, and no
        /// child rejoins.
        @Test func aMirrorThenTheIngestAreUpgradedWhileTheyPlay() async throws {
            let radio = try await TestRadio(trackSeconds: 6, noise: true)
            defer { radio.stop() }
            let fleet = try TestFleet(upstream: radio.url, mirrors: 3)
            defer { fleet.stopAll() }
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            for mirror in fleet.mirrors { try fleet.startMirror(mirror.name) }
            try await eventually(within: 20, "all 3 mirrors in the tree") { await fleet.tree().count == 3 }
            try await fleet.waitUntilConnected()
            let tree = await fleet.tree()
            let (target, child) = try #require(tree.first { $0.value != "root" }.map { ($0.value, $0.key) })
            let next = try Self.nextBuild(in: fleet.folder)

            // The radio itself as the reference; players on the root, the target and its child;
            // 197 observers on the target (200 listeners with its 3 players).
            let seconds = 60.0
            let (radioPort, rootPort, targetPort, childPort) = (radio.port, fleet.port(of: "root"), fleet.port(of: target), fleet.port(of: child))
            let referenceAnswered = Latch()
            async let reference = onThread {
                try StreamClient.fetch(
                    port: radioPort, request: StreamClient.playerRequest(path: "/stream", metadata: false), seconds: seconds + 4, answered: referenceAnswered
                )
            }
            try await eventually(within: 10, "the radio to answer the reference player") { referenceAnswered.isSet }
            let dummy = try ManagedProcess(
                name: "dummies", executable: Paths.binary("casty-dummy"),
                arguments: ["http://127.0.0.1:\(targetPort)/", "--clients", "197", "--seconds", "\(Int(seconds) - 4)", "--fleet", fleet.fleetFile.path],
                logFolder: fleet.folder
            )
            defer { dummy.stop() }
            let answered = (0..<4).map { _ in Latch() }
            async let onRoot = onThread {
                try StreamClient.fetch(port: rootPort, request: StreamClient.playerRequest(metadata: false), seconds: seconds, answered: answered[0])
            }
            async let onTarget = onThread {
                try StreamClient.fetch(port: targetPort, request: StreamClient.playerRequest(metadata: true), seconds: seconds, answered: answered[1])
            }
            async let onTargetPlain = onThread {
                try StreamClient.fetch(port: targetPort, request: StreamClient.playerRequest(metadata: false), seconds: seconds, answered: answered[2])
            }
            async let onChild = onThread {
                try StreamClient.fetch(port: childPort, request: StreamClient.playerRequest(metadata: true), seconds: seconds, answered: answered[3])
            }
            try await dummy.waitUntilDummiesConnected(197, within: 30)
            try await eventually(within: 10, "the 4 players answered") { answered.allSatisfy(\.isSet) }
            let childJoins = fleet.joins(of: child)
            let rootChildren = tree.filter { $0.value == "root" }.map(\.key)
            let rootChildrenJoins = rootChildren.map { fleet.joins(of: $0) }

            // The mirror first.
            let before = try await Self.steadyConnections(port: targetPort)
            #expect(before.count >= 200, "\(before.count) connections on \(target) before the upgrade")
            let oldPID = try #require(fleet.process(target)?.pid)
            let mirrorStarted = Date()
            let pause = try await Self.upgrade(target, in: fleet, executable: next.appendingPathComponent("casty-mirror"))
            let mirrorWindow = mirrorStarted...Date().addingTimeInterval(2)
            let after = try Self.connections(port: targetPort)
            let newPID = try #require(fleet.process(target)?.pid)
            #expect(before.values.allSatisfy { $0 == oldPID })
            #expect(Set(after.keys).isSuperset(of: Set(before.keys)), "connections of \(target) closed: \(Set(before.keys).subtracting(after.keys).sorted())")
            #expect(after.filter { before[$0.key] != nil }.allSatisfy { $0.value == newPID }, "connections still with the old process")
            let log = try #require(fleet.process(target)?.output())
            #expect(log.contains("took over from pid \(oldPID)"))
            let versions = try #require(log.split(separator: "\n").first { $0.contains("took over from pid") })
            #expect(Self.field("handover.from_version", in: versions) != Self.field("version", in: versions), "\(versions)")
            print("upgrade: \(target) handed over \(before.count) connections in \(String(format: "%.2f", pause)) s")

            // Then the ingest, once every node is linked again after the mirror's upgrade (the
            // upgraded mirror rejoins its parent).
            try await fleet.waitUntilConnected()
            let rootBefore = try await Self.steadyConnections(port: rootPort)
            let rootStarted = Date()
            let rootPause = try await Self.upgrade("root", in: fleet, executable: next.appendingPathComponent("casty-ingest"))
            let rootWindow = rootStarted...Date().addingTimeInterval(2)
            let rootAfter = try Self.connections(port: rootPort)
            #expect(Set(rootAfter.keys).isSuperset(of: Set(rootBefore.keys)), "connections of the root closed: \(Set(rootBefore.keys).subtracting(rootAfter.keys).sorted())")
            try await eventually(within: 10, "the new root to splice the radio") {
                fleet.process("root")?.output().contains("upstream reconnected: dropped the audio it sent again") == true
            }
            print("upgrade: root handed over \(rootBefore.count) connections in \(String(format: "%.2f", rootPause)) s")

            // Every listener heard the radio exactly, over one connection.
            let referenceAudio = try await reference.audioAndTitles().audio
            for (name, received) in [("root", try await onRoot), (target, try await onTarget), ("\(target) plain", try await onTargetPlain), (child, try await onChild)] {
                #expect(!received.closedByServer, "\(name)'s player was disconnected")
                let audio = try received.audioAndTitles().audio
                let compared = try assertSameAudio(audio, in: referenceAudio, window: 16 * 1024)
                #expect(compared > 600_000, "only \(compared) bytes of \(name)'s \(audio.count) compared")
                let (atMirror, atRoot) = (received.longestPause(during: mirrorWindow), received.longestPause(during: rootWindow))
                let elsewhere = received.pauses.filter { !mirrorWindow.contains($0.began) && !rootWindow.contains($0.began) }.map(\.seconds).max() ?? 0
                print(
                    "upgrade: \(name)'s player: \(compared) bytes equal to the radio's, one connection (port \(received.localPort)); longest pause "
                        + String(format: "%.3f s across the mirror's upgrade, %.3f s across the root's, %.3f s at other times", atMirror, atRoot, elsewhere)
                )
            }
            try await eventually(within: 30, "the dummies to finish") { !dummy.isRunning }
            let report = dummy.output()
            #expect(dummy.stop() == 0, "\(report)")
            #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")
            #expect(fleet.joins(of: child) <= childJoins + 1, "the child rejoined \(fleet.joins(of: child) - childJoins) times")
            for (name, joins) in zip(rootChildren, rootChildrenJoins) {
                #expect(fleet.joins(of: name) <= joins + 1 + (name == target ? 1 : 0), "\(name) rejoined \(fleet.joins(of: name) - joins) times")
            }
            print("upgrade: child \(child) joined \(fleet.joins(of: child) - childJoins) more times; dummies: \(report.split(separator: "\n").last ?? "")")
        }

        /// The new binary dies halfway (it took the state and every socket, then vanished without
        /// saying ready): the old node takes everything back and serves on, and a real upgrade
        /// afterwards works.
        @Test func aTakeOverThatDiesHalfwayLeavesTheOldNodeServing() async throws {
            let radio = try await TestRadio(trackSeconds: 6, noise: true)
            defer { radio.stop() }
            let fleet = try TestFleet(upstream: radio.url, mirrors: 1)
            defer { fleet.stopAll() }
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            try fleet.startMirror("m1")
            try await eventually(within: 20, "m1 in the tree") { await fleet.tree().count == 1 }
            try await fleet.waitUntilConnected()
            let (radioPort, port) = (radio.port, fleet.port(of: "m1"))
            let answered = (reference: Latch(), player: Latch())
            async let reference = onThread {
                try StreamClient.fetch(port: radioPort, request: StreamClient.playerRequest(path: "/stream", metadata: false), seconds: 26, answered: answered.reference)
            }
            try await eventually(within: 10, "the radio to answer the reference player") { answered.reference.isSet }
            let dummy = try ManagedProcess(
                name: "dummies", executable: Paths.binary("casty-dummy"),
                arguments: ["http://127.0.0.1:\(port)/", "--clients", "5", "--seconds", "20", "--fleet", fleet.fleetFile.path], logFolder: fleet.folder
            )
            defer { dummy.stop() }
            async let player = onThread {
                try StreamClient.fetch(port: port, request: StreamClient.playerRequest(metadata: true), seconds: 22, answered: answered.player)
            }
            try await dummy.waitUntilDummiesConnected(5)
            try await eventually(within: 10, "m1 to answer its player") { answered.player.isSet }

            // A new binary in the making: it takes the state and the sockets, then dies.
            let path = ControlSocket.defaultPath(name: "m1", port: port, environment: ProcessInfo.processInfo.environment)
            let received = try await onThread { () -> Int in
                let connection = try ControlSocket.connect(path: path)
                defer { connection.close() }
                try connection.send(.hello(formatVersions: [HandoverState.currentFormatVersion], binaryVersion: "test", pid: getpid()))
                guard case .state(let state) = try connection.receive(timeout: .seconds(10)) else { throw TestFailure("no state") }
                for descriptor in connection.receivedDescriptors { close(descriptor) }
                return state.connections.count
            }
            #expect(received >= 6, "the state named \(received) connections")
            try await eventually(within: 30, "m1 to take its sockets back") { fleet.process("m1")?.output().contains("take-over failed; serving on") == true }
            #expect(fleet.process("m1")?.isRunning == true)

            // Everyone was served on, without a gap.
            let heard = try await player
            #expect(!heard.closedByServer)
            let compared = try assertSameAudio(try heard.audioAndTitles().audio, in: try await reference.audioAndTitles().audio, window: 16 * 1024)
            #expect(compared > 250_000)
            try await eventually(within: 30, "the dummies to finish") { !dummy.isRunning }
            let report = dummy.output()
            #expect(dummy.stop() == 0, "\(report)")
            #expect(report.contains("gaps=0 missing=0 repeats=0"), "\(report)")
            print("failed take-over: m1 served on; its player \(compared) bytes equal to the radio's, longest pause \(String(format: "%.3f", heard.longestPause)) s")

            // And a real upgrade afterwards works: the listening socket was taken back too.
            let next = try Self.nextBuild(in: fleet.folder)
            _ = try await Self.upgrade("m1", in: fleet, executable: next.appendingPathComponent("casty-mirror"))
            let status = await fleet.status("m1")
            #expect(status?["name"] as? String == "m1")
        }

        /// State layouts: a new binary that cannot read the running node's state refuses (and
        /// exits with the reason); a running node asked by a binary that reads another layout
        /// refuses and serves on.
        @Test func layoutVersionsThatDoNotMatchAreRefused() async throws {
            let folder = try Paths.temporaryFolder("casty-handover")
            let fleetFile = folder.appendingPathComponent("fleet.json")
            let port = try freePort()
            try Data(
                #"{"upstream":"http://127.0.0.1:9/","fanout":2,"secret":"s","ingest":{"name":"root","host":"127.0.0.1","port":\#(try freePort())},"mirrors":[{"name":"m1","host":"127.0.0.1","port":\#(port)}]}"#
                    .utf8
            ).write(to: fleetFile)

            // A running node (here, this test) whose state has layout version 99.
            let path = folder.appendingPathComponent("m1.control").path
            let listener = try ControlSocket.listen(path: path)
            defer { listener.close() }
            let newBinary = try ManagedProcess(
                name: "m1-next", executable: Paths.binary("casty-mirror"),
                arguments: ["--fleet", fleetFile.path, "--name", "m1", "--take-over", "--control-socket", path], logFolder: folder
            )
            defer { newBinary.stop() }
            let refusal = try await onThread { () -> HandoverMessage in
                guard let connection = try listener.accept(timeout: .seconds(20)) else { throw TestFailure("the new binary never connected") }
                defer { connection.close() }
                guard case .hello = try connection.receive(timeout: .seconds(10)) else { throw TestFailure("no hello") }
                var state = HandoverState(binaryVersion: "future", node: "m1", stream: nil, place: nil, connections: [])
                state.formatVersion = 99
                let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(socket) }
                try connection.send(.state(state), descriptors: [socket])
                return try connection.receive(timeout: .seconds(10))
            }
            guard case .refused(let reason) = refusal else { throw TestFailure("expected a refusal, got \(refusal)") }
            #expect(reason.contains("layout version 99"), "\(reason)")
            try await eventually(within: 10, "the new binary to exit") { !newBinary.isRunning }
            #expect(newBinary.stop() != 0)
            #expect(newBinary.output().contains("layout version 99"), "\(newBinary.output())")

            // A real running node asked by a binary that reads only layout 99.
            let node = try ManagedProcess(
                name: "m1", executable: Paths.binary("casty-mirror"), arguments: ["--fleet", fleetFile.path, "--name", "m1", "--control-socket", path + "2"],
                logFolder: folder
            )
            defer { node.stop() }
            try await eventually(within: 20, "m1's control socket") { FileManager.default.fileExists(atPath: path + "2") }
            let answer = try await onThread { () -> HandoverMessage in
                let connection = try ControlSocket.connect(path: path + "2")
                defer { connection.close() }
                try connection.send(.hello(formatVersions: [99], binaryVersion: "future", pid: getpid()))
                return try connection.receive(timeout: .seconds(10))
            }
            guard case .refused(let why) = answer else { throw TestFailure("expected a refusal, got \(answer)") }
            #expect(why.contains("version \(HandoverState.currentFormatVersion)"), "\(why)")
            try await eventually(within: 10, "m1 to log the refusal") { node.output().contains("take-over refused; serving on") }
            #expect(node.isRunning)
        }
    }
}

extension IntegrationTests.Fleets.UpgradeTests {
    /// Another build of the binaries: copies with bytes appended, so that their build digest (in
    /// their version string) differs.
    static func nextBuild(in folder: URL) throws -> URL {
        let next = folder.appendingPathComponent("next")
        try FileManager.default.createDirectory(at: next, withIntermediateDirectories: true)
        for name in ["casty-mirror", "casty-ingest"] {
            let copy = next.appendingPathComponent(name)
            var bytes = try Data(contentsOf: Paths.binary(name))
            bytes.append(Data("casty next build\n".utf8))
            try bytes.write(to: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        }
        return next
    }

    /// Upgrades node `name` to `executable`; returns the seconds from the new process's start to
    /// the old one's exit.
    static func upgrade(_ name: String, in fleet: TestFleet, executable: URL) async throws -> Double {
        let old = try #require(fleet.process(name))
        let started = Date()
        let new = try fleet.startTakeOver(name, executable: executable)
        try await eventually(within: 30, "\(name)'s old process to hand over and exit") { !old.isRunning }
        let took = Date().timeIntervalSince(started)
        #expect(old.stop() == 0, "the old \(name) exited with another status: \(String(old.output().suffix(2000)))")
        #expect(old.output().contains("handed over to pid \(new.pid)"))
        try await eventually(within: 10, "\(name)'s new process to say it took over") { new.output().contains("took over from pid \(old.pid)") }
        #expect(new.isRunning)
        return took
    }

    /// The established connections on `port` at 127.0.0.1: each remote port with the pid that
    /// holds the server's side.
    static func connections(port: Int) throws -> [Int: Int32] {
        let (_, output) = try runCommand("/usr/bin/ss", ["-tnpH", "state", "established", "( sport = :\(port) )"])
        var result: [Int: Int32] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, let remote = fields[3].split(separator: ":").last.flatMap({ Int($0) }),
                let pid = line.range(of: "pid=").map({ line[$0.upperBound...].prefix { $0.isNumber } }).flatMap({ Int32($0) })
            else { continue }
            result[remote] = pid
        }
        return result
    }

    /// The connections on `port` that were there 1.5 s apart (not a status request passing by).
    static func steadyConnections(port: Int) async throws -> [Int: Int32] {
        let first = try Self.connections(port: port)
        // Two samples of the connections 1.5 s apart: what passes by between them is not steady.
        try await Task.sleep(for: .milliseconds(1500))
        return try Self.connections(port: port).filter { first[$0.key] == $0.value }
    }

    /// A `key=value` field of a log line (values up to the next ` key=` or ` [`).
    static func field(_ key: String, in line: Substring) -> String? {
        guard let start = line.range(of: " \(key)=") else { return nil }
        let rest = line[start.upperBound...]
        let end = rest.range(of: #" [a-z_.]+=|\s\["#, options: .regularExpression)?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }
}

extension IntegrationTests.Fleets.UpgradeTests {
    /// `scripts/rolling-upgrade.sh` on a fleet of 7 mirrors and the ingest started by
    /// `scripts/fleet-up.sh`: one node at a time, deepest first, the root last; a player on every
    /// leaf hears the radio exactly, over one connection.
    @Test func aRollingUpgradeOfSevenMirrorsAndTheIngest() async throws {
        let radio = try await TestRadio(trackSeconds: 6, noise: true)
        defer { radio.stop() }
        let folder = try Paths.temporaryFolder("casty-roll")
        let rootPort = try freePort()
        let ports = try (1...7).map { _ in try freePort() }
        let fleetFile = folder.appendingPathComponent("fleet.json")
        let json: [String: Any] = [
            "upstream": radio.url, "fanout": 2, "secret": "roll-\(UUID().uuidString)",
            "ingest": ["name": "root", "host": "127.0.0.1", "port": rootPort],
            "mirrors": ports.enumerated().map { ["name": "m\($0.offset + 1)", "host": "127.0.0.1", "port": $0.element] },
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: fleetFile)
        let dir = folder.appendingPathComponent("fleet")
        let environment = ["CASTY_BIN": Paths.binaries.path]
        let up = try runCommand(Paths.script("fleet-up.sh").path, [fleetFile.path, dir.path], environment: environment, timeout: 60)
        defer { _ = try? runCommand(Paths.script("fleet-down.sh").path, [dir.path], timeout: 60) }
        #expect(up.status == 0, "\(up.output)")
        @Sendable func status(_ port: Int) async -> [String: Any]? {
            guard let received = try? await onThread({ try StreamClient.fetch(port: port, request: "GET /status.json HTTP/1.0\r\n\r\n", seconds: 1) }) else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any]
        }
        try await eventually(within: 30, "all 7 mirrors in the tree") { (await status(rootPort)?["tree"] as? [String: String])?.count == 7 }
        let tree = try #require(await status(rootPort)?["tree"] as? [String: String])
        let leaves = tree.keys.filter { name in !tree.values.contains(name) }.sorted()
        try await eventually(within: 10, "every mirror connected to its parent") {
            for port in ports {
                guard let state = (await status(port)?["upstream"] as? [String: Any])?["state"] as? String, state.hasPrefix("connected") else { return false }
            }
            return true
        }

        let seconds = 40.0
        let radioPort = radio.port
        let referenceAnswered = Latch()
        async let reference = onThread {
            try StreamClient.fetch(
                port: radioPort, request: StreamClient.playerRequest(path: "/stream", metadata: false), seconds: seconds + 4, answered: referenceAnswered
            )
        }
        try await eventually(within: 10, "the radio to answer the reference player") { referenceAnswered.isSet }
        let players = leaves.map { leaf in
            let port = ports[Int(leaf.dropFirst())! - 1]
            let answered = Latch()
            return (leaf, answered, Task { try await onThread { try StreamClient.fetch(port: port, request: StreamClient.playerRequest(metadata: true), seconds: seconds, answered: answered) } })
        }
        try await eventually(within: 10, "every leaf to answer its player") { players.allSatisfy { $0.1.isSet } }
        func joins(_ index: Int) throws -> Int {
            try String(contentsOf: dir.appendingPathComponent("m\(index).log"), encoding: .utf8).components(separatedBy: "joined parent").count - 1
        }
        let joinsBefore = try (1...7).map(joins)
        let next = try Self.nextBuild(in: folder)
        let roll = try await onThread {
            try runCommand(Paths.script("rolling-upgrade.sh").path, ["--pause", "1", dir.path, next.path], environment: environment, timeout: 240)
        }
        #expect(roll.status == 0, "\(roll.output)")
        #expect(roll.output.contains("8 node(s) upgraded"), "\(roll.output)")
        print(roll.output.split(separator: "\n").filter { $0.contains("hand-over took") || $0.contains("upgraded") }.joined(separator: "\n"))
        let rootLog = { @Sendable in (try? String(contentsOf: dir.appendingPathComponent("root.log"), encoding: .utf8)) ?? "" }
        #expect(rootLog().contains("took over from pid"))
        try await eventually(within: 10, "the new root to splice the radio") { rootLog().contains("upstream reconnected: dropped the audio it sent again") }

        let referenceAudio = try await reference.audioAndTitles().audio
        for (leaf, _, task) in players {
            let received = try await task.value
            #expect(!received.closedByServer, "\(leaf)'s player was disconnected")
            let compared = try assertSameAudio(try received.audioAndTitles().audio, in: referenceAudio, window: 16 * 1024)
            #expect(compared > 300_000, "only \(compared) bytes of \(leaf)'s player compared")
            print("rolling upgrade: \(leaf)'s player: \(compared) bytes equal to the radio's, longest pause \(String(format: "%.3f", received.longestPause)) s")
        }
        // Each mirror's new process joined its parent once; no mirror rejoined for another's upgrade.
        for index in 1...7 {
            let during = try joins(index) - joinsBefore[index - 1]
            #expect(during == 1, "m\(index) joined \(during) times during the roll")
        }
    }
}
