import CastyCore
import CastyUpstream
import CastyServer
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A fleet's root (or a lone relay): pulls a radio, numbers its segments and serves them to
/// players and child peers. Assembles the hub, the server and the ``UpstreamService`` from a
/// ``Configuration`` and runs them until SIGTERM or SIGINT.
public struct IngestNode: Sendable {
    /// What an ingest is, once its command line is read.
    public struct Configuration: Sendable {
        /// The node's name (the fleet file's ingest, or `ingest`).
        public var name: String
        /// The radio's URL (a stream or a playlist).
        public var upstreamURL: String
        /// The fleet this node is the root of, if any.
        public var fleet: FleetFile?
        /// The hub's tunables.
        public var hub: StreamHub.Configuration
        /// Where and how to serve.
        public var server: NodeServer.Configuration
        /// How long the radio may send nothing before a reconnect.
        public var silenceTimeout: Duration
        /// Certificate authorities to trust for an https radio (`nil`: the system's).
        public var caFile: String?
        /// `nil` to pull the radio all the time; else, on demand, how long nobody may listen
        /// before the radio is dropped.
        public var onDemandIdle: Duration?
        /// Where `fleet` was read from: re-read on SIGHUP (``FleetReloader``).
        public var fleetPath: String?

        /// Creates a configuration.
        public init(
            name: String,
            upstreamURL: String,
            fleet: FleetFile?,
            hub: StreamHub.Configuration,
            server: NodeServer.Configuration,
            silenceTimeout: Duration,
            caFile: String?,
            onDemandIdle: Duration?,
            fleetPath: String? = nil
        ) {
            self.name = name
            self.upstreamURL = upstreamURL
            self.fleet = fleet
            self.hub = hub
            self.server = server
            self.silenceTimeout = silenceTimeout
            self.caFile = caFile
            self.onDemandIdle = onDemandIdle
            self.fleetPath = fleetPath
        }
    }

    /// The configuration.
    public let configuration: Configuration
    let logger: Logger

    /// Creates the node; nothing runs until ``run()``.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the node until SIGTERM or SIGINT; throws ``UpstreamRefused`` when the radio's URL is
    /// not a stream Casty can relay.
    public func run() async throws {
        let (configuration, logger) = (self.configuration, self.logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let hub = StreamHub(configuration: configuration.hub, group: group, logger: logger)
        logger.info("starting", metadata: ["stream.identity": "\(hub.identity)", "upstream.url": "\(configuration.upstreamURL)"])
        let directory = configuration.fleet.map { PeerDirectory(name: configuration.name, fleet: $0) }
        let monitor = configuration.fleet.map { FleetMonitor(fleet: $0, client: ControlClient(group: group)) }
        let server = NodeServer(
            configuration: configuration.server,
            hub: hub,
            directory: directory,
            info: NodeInfo(role: "ingest", name: configuration.name, upstreamURL: configuration.upstreamURL),
            group: group,
            logger: logger,
            monitor: monitor
        )
        let transfer = CurlTransfer.Configuration(
            url: configuration.upstreamURL,
            userAgent: "Casty/\(CastyVersion.number)",
            silenceTimeout: configuration.silenceTimeout,
            caFile: configuration.caFile
        )
        let upstream = UpstreamService(
            makeSource: { UpstreamPuller(configuration: transfer, logger: logger) },
            hub: hub,
            onDemandIdle: configuration.onDemandIdle,
            logger: logger
        )
        var services: [any Service] = [server, upstream]
        if let path = configuration.fleetPath, let directory {
            services.append(FleetReloader(path: path, directory: directory, hub: hub, monitor: monitor, logger: logger))
        }
        try await NodeLifecycle.run(services, group: group, logger: logger)
    }
}
