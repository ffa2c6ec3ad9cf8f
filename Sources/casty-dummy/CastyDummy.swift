import ArgumentParser
import CastyCommandLine
import CastyMedia
import CastyPeerProtocol
import CastyTree
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `casty-dummy`: the original design's dummy client, many at a time in one process.
@main
struct CastyDummy: CastyCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-dummy",
        abstract: "Join Casty nodes as peer observers (or players), count segments, report gaps and repeats.",
        discussion: """
            As a peer (the default) each client joins a node with the fleet's secret as an observer, which
            takes no child slot, and checks that segment numbers arrive without a gap or a repeat. As a
            player (--player) it checks the ICY framing and counts audio. Exits 1 if any client saw a gap,
            a repeat, or lost its connection; prints one summary line (and one line per failed client).
            SIGINT or SIGTERM ends the run early, with the summary.
            """,
        version: CastyVersion.string
    )

    static let examples = [
        (command: "casty-dummy http://127.0.0.1:8001/ --clients 100 --seconds 30 --fleet fleet.json", comment: "100 peer observers on the mirror at port 8001 for 30 s; exits 1 on any gap or repeat"),
        (command: "casty-dummy http://127.0.0.1:8000/ http://127.0.0.1:8003/ --clients 20 --player", comment: "20 players spread over two nodes, checking the ICY framing"),
    ]

    static func main() async { await Self.castyMain() }

    @Argument(help: "Node URLs (http://host:port/); clients are spread over them in turn.")
    var urls: [String]

    @Option(help: "Number of clients.")
    var clients: Int = 1

    @Option(help: "How long to run, in seconds.")
    var seconds: Double = 30

    @Option(help: "The fleet file, for the secret a peer observer proves.")
    var fleet: String = "fleet.json"

    @Flag(help: "Connect as players instead of peer observers.")
    var player = false

    @Option(help: "A name prefix for the clients.")
    var name: String = "dummy"

    func validate() throws {
        if self.urls.isEmpty { throw ValidationError("give at least one node URL") }
        if self.clients < 1 || self.clients > 15_000 { throw ValidationError("--clients must be 1 to 15000") }
        if self.seconds <= 0 || self.seconds > 3600 { throw ValidationError("--seconds must be in (0, 3600]") }
    }

    func run() async throws {
        raiseOpenFileLimit()
        let secret = self.player ? "" : try FleetFile.load(path: self.fleet).secret
        let targets = try self.urls.map { url -> (host: String, port: Int) in
            guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
                throw ValidationError("'\(url)' is not an http://host:port/ URL")
            }
            return (host, port)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        var tallies: [NIOLockedValueBox<DummyTally>] = []
        var channels: [Channel] = []
        for index in 0..<self.clients {
            let target = targets[index % targets.count]
            let tally = NIOLockedValueBox(DummyTally())
            tallies.append(tally)
            let request: String
            if self.player {
                request = "GET / HTTP/1.0\r\nHost: \(target.host)\r\nUser-Agent: casty-dummy\r\nIcy-MetaData: 1\r\n\r\n"
            } else {
                let join = JoinRequest(name: "\(self.name)-\(index)", from: nil, stream: nil, observer: true, secret: secret)
                request = "GET \(join.target) HTTP/1.0\r\nHost: \(target.host)\r\nUser-Agent: casty-dummy\r\n\r\n"
            }
            let mode: DummyHandler.Mode = self.player ? .player : .peer
            do {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(5))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(DummyHandler(mode: mode, request: request, tally: tally))
                        }
                    }
                    .connect(host: target.host, port: target.port)
                    .get()
                channels.append(channel)
            } catch {
                tally.withLockedValue { $0.error = "cannot connect to \(target.host):\(target.port): \(error)" }
            }
        }
        // Live progress on standard error, once a second, until the time is up or SIGINT/SIGTERM
        // asks for the summary early.
        let stopped = NIOLockedValueBox(false)
        let signalSources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { stopped.withLockedValue { $0 = true } }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        let deadline = ContinuousClock.now + .milliseconds(Int(self.seconds * 1000))
        var lastProgress = ContinuousClock.now
        while ContinuousClock.now < deadline, !stopped.withLockedValue({ $0 }) {
            try await Task.sleep(for: min(.milliseconds(200), deadline - ContinuousClock.now))
            guard ContinuousClock.now - lastProgress >= .seconds(1) else { continue }
            lastProgress = ContinuousClock.now
            let now = tallies.map { $0.withLockedValue { $0 } }
            let line = "dummies: \(Int((deadline - ContinuousClock.now).components.seconds))s left, connected=\(now.filter(\.connected).count)/\(self.clients) received=\(now.reduce(0) { $0 + $1.received }) gaps=\(now.reduce(0) { $0 + $1.gaps }) repeats=\(now.reduce(0) { $0 + $1.repeats }) errors=\(now.filter { $0.error != nil }.count)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        let finals = tallies.map { $0.withLockedValue { $0 } }
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()

        var failed = 0
        for (index, tally) in finals.enumerated() {
            let bad = !tally.connected || tally.gaps > 0 || tally.repeats > 0 || tally.error != nil
            if bad {
                failed += 1
                print("client \(self.name)-\(index): connected=\(tally.connected) received=\(tally.received) gaps=\(tally.gaps) repeats=\(tally.repeats) error=\(tally.error ?? "-")")
            }
        }
        let received = finals.reduce(0) { $0 + $1.received }
        let expected = finals.reduce(UInt64(0)) { $0 + $1.expected }
        let gaps = finals.reduce(0) { $0 + $1.gaps }
        let missing = finals.reduce(UInt64(0)) { $0 + $1.missing }
        let repeats = finals.reduce(0) { $0 + $1.repeats }
        let bytes = finals.reduce(0) { $0 + $1.audioBytes }
        let connected = finals.filter(\.connected).count
        print(
            "dummies: clients=\(self.clients) connected=\(connected) received=\(received) expected=\(self.player ? UInt64(received) : expected) gaps=\(gaps) missing=\(missing) repeats=\(repeats) audio_bytes=\(bytes) failed=\(failed)"
        )
        if failed > 0 { throw ExitCode(1) }
    }
}
