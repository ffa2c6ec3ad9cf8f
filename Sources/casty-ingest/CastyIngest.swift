import ArgumentParser
import Atomics
import CastyCore
import CastyCurl
import CastyServer
import CastyCommandLine
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `casty-ingest`: pulls a radio with libcurl, numbers its segments and serves them.
@main
struct CastyIngest: CastyCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-ingest",
        abstract: "Pull an internet radio stream and serve it as the root of a Casty fleet.",
        discussion: """
            Players connect to http://HOST:PORT/ (any path is the stream); /status is a live page and
            /status.json reports the node. A radio that cannot be reached is retried with backoff.
            """,
        version: CastyVersion.string
    )

    static let examples = [
        (command: "casty-ingest http://127.0.0.1:18000/stream --port 8000", comment: "relay one radio to players on port 8000 (listen: mpg123 http://127.0.0.1:8000/)"),
        (command: "casty-ingest --fleet fleet.json", comment: "be the root of the fleet in fleet.json (then start its mirrors with casty-mirror)"),
    ]

    static func main() async { await Self.castyMain() }

    @Argument(help: "The radio's stream URL (http or https). Taken from the fleet file when --fleet is given.")
    var url: String?

    @Option(help: "The fleet file; the ingest's address and the upstream URL come from it.")
    var fleet: String?

    @Option(help: "The address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "The TCP port to serve players on.")
    var port: Int?

    @OptionGroup var serving: ServingOptions

    @Option(help: "Seconds without a byte from upstream before reconnecting.")
    var silenceTimeout: Int = 5

    @Flag(help: "Connect upstream only while someone listens, and disconnect --idle-seconds after the last one leaves.")
    var onDemand = false

    @Option(help: "With --on-demand, seconds without listeners before disconnecting upstream.")
    var idleSeconds: Int = 10

    @Option(help: "A PEM file of certificate authorities to trust for an https upstream (default: the system's).")
    var caFile: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if self.url == nil && self.fleet == nil {
            throw ValidationError("give the radio's URL, or --fleet FILE")
        }
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port must be between 0 and 65535, not \(port)")
        }
        if self.idleSeconds < 0 { throw ValidationError("--idle-seconds cannot be negative") }
        if self.silenceTimeout < 1 { throw ValidationError("--silence-timeout must be at least 1 second") }
    }

    func run() async throws {
        raiseOpenFileLimit()
        var name = "ingest"
        var url = self.url ?? ""
        var host = self.host
        var port = self.port ?? 8000
        var fleetFile: FleetFile?
        if let path = self.fleet {
            let fleet = try FleetFile.load(path: path)
            fleetFile = fleet
            name = fleet.ingest.name
            url = self.url ?? fleet.upstream
            host = self.host == "0.0.0.0" ? fleet.ingest.host : self.host
            port = self.port ?? fleet.ingest.port
        }
        let logger = self.logging.bootstrap(label: "casty.ingest", nodeName: name)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let hub = StreamHub(
            configuration: self.serving.hub,
            group: group,
            logger: logger
        )
        logger.info("starting", metadata: ["stream.identity": "\(hub.identity)", "upstream.url": "\(url)"])
        let server = NodeServer(
            configuration: self.serving.server(host: host, port: port),
            hub: hub,
            directory: fleetFile.map { PeerDirectory(name: name, fleet: $0) },
            info: NodeInfo(role: "ingest", name: name, upstreamURL: url),
            group: group,
            logger: logger,
            monitor: fleetFile.map { FleetMonitor(fleet: $0, client: ControlClient(group: group)) }
        )
        let upstreamConfiguration = CurlTransfer.Configuration(
            url: url,
            userAgent: "Casty/\(CastyVersion.number)",
            silenceTimeout: .seconds(self.silenceTimeout),
            caFile: self.caFile
        )
        let upstream = UpstreamService(
            makePuller: { UpstreamPuller(configuration: upstreamConfiguration, logger: logger) },
            hub: hub,
            onDemandIdle: self.onDemand ? .seconds(self.idleSeconds) : nil,
            logger: logger
        )
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: server), .init(service: upstream)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        try await group.shutdownGracefully()
    }
}

/// Runs the upstream puller, feeding the hub: for as long as the node runs, or, on demand, only
/// while someone listens (players or peers), until `idle` after the last one left.
struct UpstreamService: Service {
    let makePuller: @Sendable () -> UpstreamPuller
    let hub: StreamHub
    let onDemandIdle: Duration?
    let logger: Logger

    func run() async throws {
        let connections = ManagedAtomic(0)
        let (refusals, refusal) = AsyncStream.makeStream(of: String.self)
        guard let idle = self.onDemandIdle else {
            let puller = self.start(connections: connections, refusal: refusal)
            for await message in refusals.cancelOnGracefulShutdown() {
                await puller.stop()
                throw UpstreamRefused(message: message)
            }
            await puller.stop()
            return
        }
        self.hub.setUpstreamState("idle (on demand)")
        var puller: UpstreamPuller?
        var lastListener = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let listening = self.hub.listeners.load(ordering: .relaxed) + self.hub.peers.load(ordering: .relaxed) > 0
            if listening { lastListener = .now }
            if listening, puller == nil {
                self.logger.info("a listener arrived: connecting upstream (on demand)")
                puller = self.start(connections: connections, refusal: refusal)
            } else if !listening, let running = puller, ContinuousClock.now - lastListener > idle {
                self.logger.info("no listener for \(idle): disconnecting upstream (on demand)")
                await running.stop()
                puller = nil
                self.hub.setUpstreamState("idle (on demand)")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        await puller?.stop()
    }

    private func start(connections: ManagedAtomic<Int>, refusal: AsyncStream<String>.Continuation) -> UpstreamPuller {
        let hub = self.hub
        let puller = self.makePuller()
        puller.start(
            onStatus: { status in
                switch status {
                case .connecting: hub.setUpstreamState("connecting")
                case .connected:
                    if connections.loadThenWrappingIncrement(ordering: .relaxed) > 0 { hub.reconnects.wrappingIncrement(ordering: .relaxed) }
                    hub.setUpstreamState("connected")
                case .retrying(let delay, let cause): hub.setUpstreamState("retrying in \(delay): \(cause)")
                case .stopped: hub.setUpstreamState("stopped")
                case .refused(let message):
                    hub.setUpstreamState("refused: \(message)")
                    refusal.yield(message)
                }
            },
            onEvent: { event in
                switch event {
                case .connected(let head, _): hub.setContext(StreamContext(upstream: head), checkBytes: true)
                case .segment(let segment): hub.publish(segment)
                }
            }
        )
        return puller
    }
}

/// The radio's URL is not a stream Casty can relay (an HLS playlist, say): the ingest stops.
struct UpstreamRefused: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
