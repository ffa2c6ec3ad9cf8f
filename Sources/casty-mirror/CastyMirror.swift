import ArgumentParser
import Atomics
import CastyCommandLine
import CastyCore
import CastyCurl
import CastyPeerProtocol
import CastyServer
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `casty-mirror`: joins a Casty fleet and re-serves its stream.
@main
struct CastyMirror: CastyCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-mirror",
        abstract: "Join a Casty fleet and re-serve its stream to players and child peers.",
        discussion: """
            The mirror listens on the host and port the fleet file gives it, joins the tree through the
            ingest, and serves players at http://HOST:PORT/, /status and /status.json.
            """,
        version: CastyVersion.string
    )

    static let examples = [
        (command: "casty-mirror --fleet fleet.json --name m1", comment: "join the fleet in fleet.json as its mirror m1 (its ingest must run: casty-ingest --fleet fleet.json)"),
        (command: "casty-mirror --fleet fleet.json --name m2 --listen 0.0.0.0", comment: "the same for m2, serving players on every address"),
    ]

    static func main() async { await Self.castyMain() }

    @Option(help: "The fleet file.")
    var fleet: String = "fleet.json"

    @Option(help: "This mirror's name in the fleet file.")
    var name: String

    @Option(help: "Listen on this address instead of the fleet file's host (e.g. 0.0.0.0).")
    var listen: String?

    @OptionGroup var serving: ServingOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        raiseOpenFileLimit()
        let fleet = try FleetFile.load(path: self.fleet)
        let node = try fleet.node(named: self.name)
        guard node.name != fleet.ingest.name else {
            throw ValidationError("'\(self.name)' is the fleet's ingest; start it with casty-ingest --fleet \(self.fleet)")
        }
        let logger = self.logging.bootstrap(label: "casty.mirror", nodeName: self.name)
        let rootURL = "http://\(fleet.ingest.host):\(fleet.ingest.port)"
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let hub = StreamHub(
            identity: StreamIdentity(value: "none"),
            nextSeq: nil,
            configuration: self.serving.hub,
            group: group,
            logger: logger
        )
        let directory = PeerDirectory(name: self.name, fleet: fleet)
        let parentLink = ParentLink(name: self.name, rootURL: rootURL, secret: fleet.secret, logger: logger)
        let server = NodeServer(
            configuration: self.serving.server(host: self.listen ?? node.host, port: node.port),
            hub: hub,
            directory: directory,
            info: NodeInfo(role: "mirror", name: self.name, upstreamURL: rootURL),
            group: group,
            logger: logger,
            hooks: PeerHooks(
                reportLoss: { [name = self.name, secret = fleet.secret] child in
                    let report = LossReport(reporter: name, child: child, secret: secret)
                    Task {
                        let status = try? await ControlClient(group: group).get(rootURL + report.target, timeout: .seconds(2)).status
                        logger.info("reported a lost child to the root", metadata: ["peer.name": "\(child)", "http.status": "\(status.map(String.init) ?? "none")"])
                    }
                },
                relocateSelf: { parentLink.relocate() }
            )
        )
        let link = ParentLinkService(link: parentLink, hub: hub, directory: directory)
        logger.info("starting", metadata: ["fleet.root": "\(rootURL)", "listen.port": "\(node.port)"])
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: server), .init(service: link)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        try await group.shutdownGracefully()
    }
}

/// Keeps the mirror joined to the tree, feeding the hub with its parent's segments.
struct ParentLinkService: Service {
    let link: ParentLink
    let hub: StreamHub
    let directory: PeerDirectory

    func run() async throws {
        let (hub, directory) = (self.hub, self.directory)
        let joins = ManagedAtomic(0)
        self.link.start(
            position: {
                let identity = hub.identity.value
                return ParentLink.Position(nextSeq: hub.nextSeq, stream: identity == "none" ? nil : identity)
            },
            onAccepted: { acceptance in
                if joins.loadThenWrappingIncrement(ordering: .relaxed) > 0 { hub.reconnects.wrappingIncrement(ordering: .relaxed) }
                if acceptance.stream != hub.identity.value {
                    hub.resetStream(identity: StreamIdentity(value: acceptance.stream), nextSeq: acceptance.nextSeq)
                }
                // A parent that has no context yet (its own upstream not reached) leaves ours as is;
                // a context frame brings it later.
                let context = StreamContext(upstream: acceptance.head)
                if !context.headers.isEmpty || hub.context.headers.isEmpty { hub.setContext(context) }
                if let metadata = acceptance.metadata { hub.resume(metadata: metadata) }
                directory.joined(parent: acceptance.parent, depth: acceptance.depth, path: acceptance.path)
                hub.setUpstreamState("connected to \(acceptance.parent)")
            },
            onFrame: { frame in
                switch frame {
                case .data(let seq, let segment): hub.receive(seq: seq, segment: segment)
                case .tree(let change): hub.broadcast(change)
                case .heartbeat(let newest): hub.parentNewestSeq.store(newest, ordering: .relaxed)
                case .context(let headers): hub.setContext(StreamContext(headers: headers))
                case .codecHeaders(let pages): hub.resume(codecHeaders: pages)
                case .leave: break
                }
            },
            onDown: { cause in hub.setUpstreamState("rejoining: \(cause)") }
        )
        try? await gracefulShutdown()
        await self.link.stop()
    }
}
