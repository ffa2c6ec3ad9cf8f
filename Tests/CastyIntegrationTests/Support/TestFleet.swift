import Foundation

/// A fleet on loopback: a fleet file on free ports, the ingest and every mirror as real processes.
/// `@unchecked Sendable`: `processes`, its only mutable state, is read and written under `lock`.
final class TestFleet: @unchecked Sendable {
    struct Node {
        var name: String
        var port: Int
    }

    let folder: URL
    let fleetFile: URL
    let root: Node
    let mirrors: [Node]
    /// The standby root, when the fleet has one (named `root2`).
    let standby: Node?
    private var processes: [String: ManagedProcess] = [:]
    private let lock = NSLock()

    init(upstream: String, mirrors count: Int, standby: Bool = false) throws {
        self.folder = try Paths.temporaryFolder("casty-fleet")
        self.root = Node(name: "root", port: try freePort())
        self.mirrors = try (1...count).map { Node(name: "m\($0)", port: try freePort()) }
        self.standby = standby ? Node(name: "root2", port: try freePort()) : nil
        self.fleetFile = self.folder.appendingPathComponent("fleet.json")
        var json: [String: Any] = [
            "upstream": upstream,
            "fanout": 2,
            "secret": "test-\(UUID().uuidString)",
            "ingest": ["name": self.root.name, "host": "127.0.0.1", "port": self.root.port],
            "mirrors": self.mirrors.map { ["name": $0.name, "host": "127.0.0.1", "port": $0.port] },
        ]
        if let standby = self.standby { json["standby"] = ["name": standby.name, "host": "127.0.0.1", "port": standby.port] }
        try JSONSerialization.data(withJSONObject: json).write(to: self.fleetFile)
    }

    /// Starts the standby root (`casty-ingest --name root2`).
    func startStandby() throws {
        guard let standby = self.standby else { throw TestFailure("this fleet has no standby") }
        let process = try ManagedProcess(
            name: standby.name,
            executable: Paths.binary("casty-ingest"),
            arguments: ["--fleet", self.fleetFile.path, "--name", standby.name],
            logFolder: self.folder
        )
        self.lock.withLock { self.processes[standby.name] = process }
    }

    /// A fleet of `mirrors` mirrors, all in the tree, relaying a SHOUTcast-style test server.
    static func running(mirrors: Int) async throws -> (ShoutcastServer, TestFleet) {
        let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
        let upstream = try await ShoutcastServer(mp3: mp3, logFolder: try Paths.temporaryFolder("casty-upstream"), titleEvery: 2)
        let fleet = try TestFleet(upstream: upstream.url, mirrors: mirrors)
        try fleet.startRoot()
        try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
        for mirror in fleet.mirrors { try fleet.startMirror(mirror.name) }
        try await eventually(within: 20, "all mirrors in the tree") { await fleet.tree().count == mirrors }
        try await fleet.waitUntilConnected()
        return (upstream, fleet)
    }

    func startRoot() throws {
        let process = try ManagedProcess(
            name: self.root.name,
            executable: Paths.binary("casty-ingest"),
            arguments: ["--fleet", self.fleetFile.path],
            logFolder: self.folder
        )
        self.lock.withLock { self.processes[self.root.name] = process }
    }

    func startMirror(_ name: String) throws {
        let process = try ManagedProcess(
            name: name,
            executable: Paths.binary("casty-mirror"),
            arguments: ["--fleet", self.fleetFile.path, "--name", name],
            logFolder: self.folder
        )
        self.lock.withLock { self.processes[name] = process }
    }

    func process(_ name: String) -> ManagedProcess? { self.lock.withLock { self.processes[name] } }

    /// Starts `executable` with node `name`'s arguments plus `--take-over` (an upgrade in place);
    /// from now on `process(name)` is the new one, and the old one stays under `name-old`.
    func startTakeOver(_ name: String, executable: URL) throws -> ManagedProcess {
        let arguments = ["--fleet", self.fleetFile.path] + (name == self.root.name ? [] : ["--name", name]) + ["--take-over"]
        let process = try ManagedProcess(name: "\(name)-next", executable: executable, arguments: arguments, logFolder: self.folder)
        self.lock.withLock {
            self.processes["\(name)-old"] = self.processes[name]
            self.processes[name] = process
        }
        return process
    }

    /// Waits until the root reaches its radio and every mirror its parent: from then on, a
    /// player of any node is told the radio's headers.
    func waitUntilConnected(within seconds: Double = 10) async throws {
        try await eventually(within: seconds, "the root and every mirror connected") {
            for node in [self.root] + self.mirrors {
                guard let state = (await self.status(node.name)?["upstream"] as? [String: Any])?["state"] as? String,
                    state.hasPrefix("connected")
                else { return false }
            }
            return true
        }
    }

    /// Waits until `name` answers `/status.json`. Fails at once if its process exits first, and the
    /// failure carries the end of the process's log either way, so that a node that could not start
    /// says why.
    func waitUntilAnswering(_ name: String, process: ManagedProcess?, within seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await self.status(name) != nil { return }
            if let process, !process.isRunning {
                throw TestFailure("\(name) exited with status \(process.stop()) before answering; its log ends:\n\(process.output().suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = process.map { String($0.output().suffix(3000)) } ?? "(no process)"
        throw TestFailure("timed out after \(seconds) s waiting for \(name) to answer on port \(self.port(of: name)); its log ends:\n\(log)")
    }

    func port(of name: String) -> Int {
        if name == self.root.name { return self.root.port }
        if let standby = self.standby, name == standby.name { return standby.port }
        return self.mirrors.first { $0.name == name }!.port
    }

    /// `/status.json` of a node, or nil if it does not answer.
    func status(_ name: String) async -> [String: Any]? {
        let port = self.port(of: name)
        guard let received = try? await onThread({ try StreamClient.fetch(port: port, request: "GET /status.json HTTP/1.0\r\n\r\n", seconds: 1) }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any]
    }

    /// The tree as the root sees it: mirror → parent.
    func tree() async -> [String: String] {
        (await self.status(self.root.name)?["tree"] as? [String: String]) ?? [:]
    }

    /// How many times a mirror's log says it joined a parent.
    func joins(of name: String) -> Int {
        (self.process(name)?.output() ?? "").components(separatedBy: "joined parent").count - 1
    }

    /// The mirrors the root told to move, from its log.
    func relocations() -> [String] {
        (self.process(self.root.name)?.output() ?? "").components(separatedBy: "tree.change=relocate(node: \"").dropFirst().compactMap {
            $0.split(separator: "\"").first.map(String.init)
        }
    }

    func stopAll() {
        let all = self.lock.withLock { Array(self.processes.values) }
        for process in all { process.stop(signal: SIGCONT, seconds: 0) }
        for process in all { process.stop() }
    }

    static func depth(of name: String, in tree: [String: String]) -> Int {
        var depth = 0
        var node = name
        while let parent = tree[node], depth < 100 {
            depth += 1
            node = parent
        }
        return depth
    }
}

extension ManagedProcess {
    /// Waits until `casty-dummy` (this process) says, in its once-a-second progress line, that all
    /// its `clients` are connected.
    func waitUntilDummiesConnected(_ clients: Int, within seconds: Double = 15) async throws {
        try await eventually(within: seconds, "the \(clients) dummies connected") { self.output().contains(" connected=\(clients)/\(clients) ") }
    }
}
