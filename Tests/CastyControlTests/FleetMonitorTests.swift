import CastyTree
import NIOCore
import NIOPosix
import Testing
import CastyTestSupport

@testable import CastyControl

/// The root's fleet monitor against fake mirrors on loopback, some of them black holes.
@Suite struct FleetMonitorTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Mirrors that answer, and mirrors that take requests and never answer, listed first so that
    /// polling one mirror after another would reach the good ones late.
    struct Fleet {
        var servers: [TinyHTTPServer]
        var file: FleetFile
        var tree: [String: String]

        init(_ answers: [(name: String, answer: TinyHTTPServer.Answer)]) async throws {
            var servers: [TinyHTTPServer] = []
            for (_, answer) in answers { servers.append(try await TinyHTTPServer(group: FleetMonitorTests.group, answer: answer)) }
            self.servers = servers
            self.file = FleetFile(
                upstream: "http://127.0.0.1:9/stream", secret: "s", ingest: .init(name: "root", host: "127.0.0.1", port: 9),
                mirrors: zip(answers, servers).map { FleetFile.Node(name: $0.name, host: "127.0.0.1", port: $1.port) }
            )
            self.tree = Dictionary(uniqueKeysWithValues: answers.map { ($0.name, "root") })
        }

        func close() async throws {
            for server in self.servers { try await server.close() }
        }
    }

    static let goodStatus = TinyHTTPServer.Answer.replyUntilClose(status: .ok, body: #"{"role":"mirror","listeners":3,"seq":42}"#)

    static func states(_ monitor: FleetMonitor, _ fleet: Fleet) -> [String: String] {
        Dictionary(uniqueKeysWithValues: monitor.nodes(tree: fleet.tree, root: (listeners: 1, seq: 50)).map { ($0.name, $0.state) })
    }

    /// Runs `body` while `monitor.run()` polls in a child task, both on a thread of their own (so
    /// that the timing does not depend on a cooperative pool other suites keep busy); then
    /// cancels the monitor and returns how long it took to end.
    static func whileRunning(_ monitor: FleetMonitor, _ body: @escaping () async throws -> Void) async throws -> Duration {
        try await onDedicatedThread {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await monitor.run() }
                try await body()
                let clock = ContinuousClock()
                let cancelled = clock.now
                group.cancelAll()
                try await group.waitForAll()
                return clock.now - cancelled
            }
        }
    }

    @Test func blackHoledMirrorsDoNotDelayTheOthers() async throws {
        let fleet = try await Fleet([
            ("hole1", .never), ("good1", Self.goodStatus), ("hole2", .never), ("hole3", .never), ("good2", Self.goodStatus),
        ])
        // Requests that would wait 30 s for each black hole, were the mirrors asked one by one.
        let monitor = FleetMonitor(fleet: fleet.file, client: ControlClient(group: Self.group), timeout: .seconds(30))
        let stopping = try await Self.whileRunning(monitor) {
            try await eventually(within: atOnce, "the answering mirrors seen up at once") {
                let states = Self.states(monitor, fleet)
                return states["good1"] == "up" && states["good2"] == "up"
            }
            let states = Self.states(monitor, fleet)
            #expect(states == ["root": "up", "good1": "up", "good2": "up", "hole1": "down", "hole2": "down", "hole3": "down"])
            let good = try #require(monitor.nodes(tree: fleet.tree, root: (listeners: 1, seq: 50)).first { $0.name == "good1" })
            #expect(good.listeners == 3)
            #expect(good.seq == 42)
            #expect(good.lag == 8)
            #expect(good.depth == 1)
            #expect(good.parent.value == "root")
        }
        #expect(stopping < atOnce)
        try await fleet.close()
    }

    @Test func pollsOnceASecond() async throws {
        let fleet = try await Fleet([("good", Self.goodStatus)])
        let monitor = FleetMonitor(fleet: fleet.file, client: ControlClient(group: Self.group))
        let requests = { fleet.servers[0].requests.withLockedValue { $0.count } }
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await Self.whileRunning(monitor) {
            // Rounds at 0, 1 and 2 s: the third comes, and no sooner than 2 s after the start.
            var seen = 0
            try await eventually("three rounds") {
                seen = requests()
                return seen >= 3
            }
            #expect(clock.now - started >= .seconds(2))
            #expect(seen == 3)
        }
        #expect(fleet.servers[0].requests.withLockedValue { $0.allSatisfy { $0.uri == "/status.json" } })
        try await fleet.close()
    }

    @Test func stopsPromptlyWhileRequestsAreUnderWay() async throws {
        let fleet = try await Fleet([("hole", .never), ("good", Self.goodStatus)])
        // Requests that would wait 30 s for the black hole.
        let monitor = FleetMonitor(fleet: fleet.file, client: ControlClient(group: Self.group), timeout: .seconds(30))
        let stopping = try await Self.whileRunning(monitor) {
            // Stopped while the black hole's request is under way and the good mirror answered.
            try await eventually(within: atOnce, "the good mirror up, the black hole asked") {
                Self.states(monitor, fleet)["good"] == "up" && fleet.servers[0].requests.withLockedValue { $0.count } >= 1
            }
        }
        #expect(stopping < atOnce)
        try await fleet.close()
    }
}
