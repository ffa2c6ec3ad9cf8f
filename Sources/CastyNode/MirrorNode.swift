import CastyStream
import CastyTree
import CastyUpstream
import CastyControl
import CastyServer
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A fleet's mirror: joins the tree through the root and re-serves its parent's stream to
/// players and up to two children. Assembles the hub, the server, the ``ParentLinkService`` and
/// the ``LossReporter`` from a ``Configuration`` and runs them until SIGTERM or SIGINT.
public struct MirrorNode: Sendable {
    /// What a mirror is, once its command line is read.
    public struct Configuration: Sendable {
        /// The mirror's name in the fleet file.
        public var name: String
        /// The fleet.
        public var fleet: FleetFile
        /// The hub's tunables.
        public var hub: StreamHub.Configuration
        /// Where and how to serve.
        public var server: NodeServer.Configuration
        /// Where `fleet` was read from: re-read on SIGHUP (``FleetReloader``).
        public var fleetPath: String?
        /// The control socket, where a new binary asks this node to hand over (nil: none).
        public var controlSocket: String?
        /// Take over from the node of this name that runs now (`--take-over`).
        public var takeOver: Bool

        /// Creates a configuration.
        public init(
            name: String, fleet: FleetFile, hub: StreamHub.Configuration, server: NodeServer.Configuration, fleetPath: String? = nil,
            controlSocket: String? = nil, takeOver: Bool = false
        ) {
            self.name = name
            self.fleet = fleet
            self.hub = hub
            self.server = server
            self.fleetPath = fleetPath
            self.controlSocket = controlSocket
            self.takeOver = takeOver
        }

        /// The root's base URL, `http://host:port`, where the mirror joins and reports.
        public var rootURL: String { "http://\(self.fleet.ingest.host):\(self.fleet.ingest.port)" }

        /// Where the mirror joins: the root, then, in a fleet with a standby root, the standby
        /// (tried in turn after each failed join).
        public var rootURLs: [String] { [self.rootURL] + (self.fleet.standby.map { ["http://\($0.host):\($0.port)"] } ?? []) }
    }

    /// The configuration.
    public let configuration: Configuration
    let logger: Logger

    /// Creates the node; nothing runs until ``run()``.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the node until SIGTERM or SIGINT.
    public func run() async throws {
        let (configuration, logger) = (self.configuration, self.logger)
        let (name, fleet, rootURL) = (configuration.name, configuration.fleet, configuration.rootURL)
        // An upgrade: the running node's sockets and state, before anything else starts.
        let takeOver = try await Self.takeOver(name: name, path: configuration.controlSocket, if: configuration.takeOver)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let hub = StreamHub(
            identity: StreamIdentity(value: "none"),
            nextSeq: nil,
            configuration: configuration.hub,
            group: group,
            logger: logger
        )
        let directory = PeerDirectory(name: name, fleet: fleet)
        if let stream = takeOver?.state.stream { hub.restore(stream) }
        if let place = takeOver?.state.place { directory.joined(parent: place.parent, depth: place.depth, path: place.path) }
        // In a fleet with a standby root, joins carry the highest root term seen.
        let term: (@Sendable () -> UInt64?)? = fleet.standby == nil ? nil : { @Sendable () -> UInt64? in directory.term }
        let parentLink = ParentLink(
            name: name, rootURLs: configuration.rootURLs, rootNames: [fleet.ingest.name] + (fleet.standby.map { [$0.name] } ?? []),
            secret: { directory.secret }, term: term, logger: logger
        )
        let control = ControlClient(group: group)
        let rootURLs = configuration.rootURLs
        let reporter = LossReporter(name: name, secret: { directory.secret }, rootURL: rootURL, logger: logger) { url in
            guard rootURLs.count > 1, url.hasPrefix(rootURL) else { return try? await control.get(url, timeout: .seconds(2)).status }
            // A fleet with a standby root: the report goes to whichever ingest is the root now
            // (the other answers 404, a dead one nothing), the one this mirror last heard of first.
            let target = url.dropFirst(rootURL.count)
            let current = directory.claim.flatMap { claim in try? fleet.node(named: claim.root) }.map { "http://\($0.host):\($0.port)" }
            var status: Int?
            for base in ([current].compactMap { $0 } + rootURLs.filter { $0 != current }) {
                status = try? await control.get(base + target, timeout: .seconds(1)).status
                if status == 204 { break }
            }
            return status
        }
        let hooks = reporter.hooks(relocating: parentLink)
        // Children whose link died and did not come back are reported to the root.
        let repair = TreeRepairService(directory: directory, logger: logger, announce: { hub.broadcast($0) }, report: { await reporter.report(lostChild: $0) })
        var serverConfiguration = configuration.server
        serverConfiguration.listeningSocket = takeOver?.listeningSocket
        let server = NodeServer(
            configuration: serverConfiguration,
            hub: hub,
            directory: directory,
            info: NodeInfo(role: "mirror", name: name, upstreamURL: rootURL),
            group: group,
            logger: logger,
            hooks: hooks,
            onBound: { _ in SystemdNotifier.notify(takeOver == nil ? ["READY=1"] : ["MAINPID=\(getpid())", "READY=1"]) }
        )
        if let takeOver { try await Self.finish(takeOver, server: server, group: group, logger: logger) }
        let link = ParentLinkService(link: parentLink, hub: hub, directory: directory) {
            // Shut down after the link, before the server sends the children their leave.
            await reporter.announceLeave()
        }
        logger.info("starting", metadata: ["fleet.root": "\(rootURL)", "listen.port": "\(configuration.server.port)", "version": "\(BuildIdentity.current)"])
        let reloader = configuration.fleetPath.map { FleetReloader(path: $0, directory: directory, hub: hub, monitor: nil, logger: logger) }
        let handover = configuration.controlSocket.map { path in
            HandoverService(node: name, path: path, server: server, hub: hub, directory: directory, logger: logger) {
                await parentLink.stop()
            }
        }
        // Certificate renewal on SIGHUP, when the port speaks https.
        let tls: [any Service] = configuration.server.tls.map { [TLSReloader(store: $0, logger: logger)] } ?? []
        try await NodeLifecycle.run([server, link, repair] + tls + (handover.map { [$0] } ?? []), ending: reloader.map { [$0] } ?? [], group: group, logger: logger)
    }

    /// With `--take-over`: the running node's sockets and state (nil without).
    static func takeOver(name: String, path: String?, if wanted: Bool) async throws -> TakeOver? {
        guard wanted else { return nil }
        guard let path else { throw HandoverFailure("--take-over needs a control socket") }
        return try await NIOThreadPool.singleton.runIfActive { try TakeOver.request(path: path, node: name) }
    }

    /// Takes the handed-over connections, says ready, and serves them once the old process let
    /// go; if it does not, lets them go and fails (the old process serves them).
    static func finish(_ takeOver: TakeOver, server: NodeServer, group: EventLoopGroup, logger: Logger) async throws {
        let adopted = await server.adopt(takeOver.connections)
        do {
            try await NIOThreadPool.singleton.runIfActive { try takeOver.ready() }
        } catch {
            server.abandon(adopted)
            close(takeOver.listeningSocket)
            try? await group.shutdownGracefully()
            throw error
        }
        server.activate(adopted)
        logger.notice(
            "took over from pid \(takeOver.oldPID.map(String.init) ?? "?")",
            metadata: [
                "handover.connections": "\(takeOver.connections.count - adopted.failed)", "handover.from_version": "\(takeOver.state.binaryVersion)",
                "version": "\(BuildIdentity.current)",
            ]
        )
    }
}
