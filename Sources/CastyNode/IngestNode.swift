import CastyMedia
import CastyTree
import CastyPeerProtocol
import CastyUpstream
import CastyControl
import CastyServer
import Foundation
import CastyICY
import Logging
import NIOConcurrencyHelpers
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
        /// The control socket, where a new binary asks this node to hand over (nil: none).
        public var controlSocket: String?
        /// Take over from the ingest of this name that runs now (`--take-over`).
        public var takeOver: Bool

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
            fleetPath: String? = nil,
            controlSocket: String? = nil,
            takeOver: Bool = false
        ) {
            self.controlSocket = controlSocket
            self.takeOver = takeOver
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
        if configuration.takeOver && configuration.fleet?.standby != nil {
            throw HandoverFailure("--take-over is not supported yet for an ingest of a fleet with a standby root; restart it instead (the standby takes over meanwhile)")
        }
        // An upgrade: the running ingest's sockets and state, before anything else starts.
        let takeOver = try await MirrorNode.takeOver(name: configuration.name, path: configuration.controlSocket, if: configuration.takeOver)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let hub = StreamHub(configuration: configuration.hub, group: group, logger: logger)
        if let stream = takeOver?.state.stream { hub.restore(stream) }
        logger.info(
            "starting",
            metadata: ["stream.identity": "\(hub.identity)", "upstream.url": "\(configuration.upstreamURL)", "version": "\(BuildIdentity.current)"]
        )
        // A fleet with a standby root: this ingest is root only while its role says so.
        let election = configuration.fleet.flatMap { fleet in
            fleet.standby.map { RootElection(role: IngestRole(name: configuration.name, primary: fleet.ingest.name, standby: $0.name)) }
        }
        let directory = configuration.fleet.map { PeerDirectory(name: configuration.name, fleet: $0, election: election) }
        if let tree = takeOver?.state.tree { directory?.adoptTree(tree) }
        let monitor = configuration.fleet.map { FleetMonitor(fleet: $0, client: ControlClient(group: group)) }
        // The root's status lists the fleet as the monitor last heard it.
        var fleetNodes: FleetNodes?
        if let monitor {
            fleetNodes = { tree, root, rootName in monitor.nodes(tree: tree, root: root, rootName: rootName) }
        }
        var serverConfiguration = configuration.server
        serverConfiguration.listeningSocket = takeOver?.listeningSocket
        let server = NodeServer(
            configuration: serverConfiguration,
            hub: hub,
            directory: directory,
            info: NodeInfo(role: "ingest", name: configuration.name, upstreamURL: configuration.upstreamURL),
            group: group,
            logger: logger,
            fleetNodes: fleetNodes,
            onBound: { _ in SystemdNotifier.notify(takeOver == nil ? ["READY=1"] : ["MAINPID=\(getpid())", "READY=1"]) }
        )
        if let takeOver { try await MirrorNode.finish(takeOver, server: server, group: group, logger: logger) }
        let transfer = CurlTransfer.Configuration(
            url: configuration.upstreamURL,
            userAgent: "Casty/\(CastyVersion.number)",
            silenceTimeout: configuration.silenceTimeout,
            caFile: configuration.caFile
        )
        // The services every ingest of a fleet runs beside its server: the monitor of the
        // mirrors' status (which the root's status reports), the reload of the fleet file, and
        // the tree's repair (which acts whenever this ingest is the root).
        var fleetServices: [any Service] = monitor.map { [$0] } ?? []
        // Certificate renewal on SIGHUP, when the port speaks https (with a fleet or without).
        if let tls = configuration.server.tls { fleetServices.append(TLSReloader(store: tls, logger: logger)) }
        if let directory {
            if let path = configuration.fleetPath {
                fleetServices.append(FleetReloader(path: path, directory: directory, hub: hub, monitor: monitor, logger: logger))
            }
            fleetServices.append(
                TreeRepairService(directory: directory, logger: logger, announce: { hub.broadcast($0) }, placesSaid: { monitor?.placesSaid() ?? [:] })
            )
        }
        if let fleet = configuration.fleet, let directory, election != nil {
            let roles = IngestRoleService(
                fleet: fleet,
                hub: hub,
                directory: directory,
                transports: Self.transports(name: configuration.name, fleet: fleet, transfer: transfer, group: group, logger: logger),
                logger: logger
            )
            try await NodeLifecycle.run([server, roles] + fleetServices, group: group, logger: logger)
            return
        }
        // After a take-over the first connection to the radio is spliced onto what the old
        // process sent, as after a reconnect.
        let resumeAfter = NIOLockedValueBox((takeOver?.state.stream?.segments ?? []).suffix(16).map {
            ICYSegment(audio: ByteBuffer(bytes: $0.audio), metadata: ByteBuffer(bytes: $0.metadata))
        })
        let upstream = UpstreamService(
            makeSource: {
                let resume = resumeAfter.withLockedValue { segments in
                    defer { segments = [] }
                    return segments
                }
                return UpstreamPuller(configuration: transfer, resumeAfter: resume, logger: logger)
            },
            hub: hub,
            onDemandIdle: configuration.onDemandIdle,
            logger: logger
        )
        let handover = configuration.controlSocket.map { path in
            HandoverService(node: configuration.name, path: path, server: server, hub: hub, directory: directory, logger: logger) {
                await upstream.letGo()
            }
        }
        try await NodeLifecycle.run([server, upstream] + fleetServices + (handover.map { [$0] } ?? []), group: group, logger: logger)
    }

    /// The real transports of an ingest of a fleet with a standby: libcurl for the radio and the
    /// link to the root, the control client for the questions to the other ingest.
    static func transports(name: String, fleet: FleetFile, transfer: CurlTransfer.Configuration, group: any EventLoopGroup, logger: Logger) -> IngestRoleService.Transports {
        let control = ControlClient(group: group)
        return IngestRoleService.Transports(
            makeSource: { UpstreamPuller(configuration: transfer, logger: logger) },
            makeLink: { rootURL, term in
                ParentLink(name: name, rootURLs: [rootURL], secret: { fleet.secret }, observer: true, term: term, logger: logger)
            },
            probe: { baseURL in
                let request = JoinRequest(name: name, from: nil, stream: nil, secret: fleet.secret)
                let query = request.target.dropFirst(PeerProtocol.joinPath.count)
                guard let response = try? await control.get(baseURL + PeerProtocol.rootPath + query, timeout: .seconds(1)), response.status == 200 else {
                    return .unreachable
                }
                return IngestRole.Answer(line: String(buffer: response.body)) ?? .unreachable
            },
            fetchTree: { baseURL in
                guard let response = try? await control.get(baseURL + "/status.json", timeout: .seconds(1)), response.status == 200,
                    let status = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                else { return nil }
                return status["tree"] as? [String: String]
            }
        )
    }
}
