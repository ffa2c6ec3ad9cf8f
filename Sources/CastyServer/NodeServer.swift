import CastyICY
import CastyHandover
import CastyTLS
import CastyTree
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The listening side of a node: accepts players on `host:port` and serves them from a
/// ``StreamHub``. Runs as a service: on graceful shutdown it stops accepting and closes every
/// connection.
public final class NodeServer: Service {
    /// Connection limits and timeouts.
    public struct Configuration: Sendable {
        /// The address to listen on.
        public var host: String
        /// The port to listen on; 0 picks a free one (see `onBound`).
        public var port: Int
        /// How long a client may take to send its whole request.
        public var requestTimeout: TimeAmount
        /// Limits on request heads.
        public var limits: ICYDecoderLimits
        /// The kernel send buffer of each client socket. A fixed size (instead of the kernel's
        /// autotuning, which grows to megabytes) bounds the memory a slow client holds in the kernel
        /// and makes a stalled client visible to the lag limit within seconds.
        public var socketSendBuffer: Int
        /// Players a node serves at most; more are answered `503`.
        public var maxListeners: Int
        /// Open connections one remote address may hold (loopback is exempt).
        public var maxConnectionsPerAddress: Int
        /// A listening socket handed over by the process this one took over from: served
        /// instead of binding `host:port`.
        public var listeningSocket: CInt?
        /// The certificate the port presents, when it speaks https (with http, or alone, as its
        /// mode says); `nil`: plain http.
        public var tls: TLSCertificateStore?

        /// Creates a configuration.
        public init(host: String, port: Int, requestTimeout: TimeAmount = .seconds(10), limits: ICYDecoderLimits = ICYDecoderLimits(maxHeaderLineLength: 8 * 1024, maxHeadLength: 16 * 1024), socketSendBuffer: Int = 64 * 1024, maxListeners: Int = 19_000, maxConnectionsPerAddress: Int = 64) {
            self.socketSendBuffer = socketSendBuffer
            self.maxListeners = maxListeners
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.host = host
            self.port = port
            self.requestTimeout = requestTimeout
            self.limits = limits
        }
    }

    private let configuration: Configuration
    private let hub: StreamHub
    private let directory: PeerDirectory?
    private let info: NodeInfo
    private let group: EventLoopGroup
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress) -> Void
    private let hooks: PeerHooks
    private let fleetNodes: FleetNodes?
    /// The listening channel, once bound.
    private let listener = NIOLockedValueBox<Channel?>(nil)

    /// Creates a server; nothing listens until `run()`. At an ingest of a fleet, `fleetNodes` is
    /// what its status reports of the other nodes (the node's fleet monitor, which it runs).
    public init(
        configuration: Configuration,
        hub: StreamHub,
        directory: PeerDirectory? = nil,
        info: NodeInfo,
        group: EventLoopGroup,
        logger: Logger,
        hooks: PeerHooks = PeerHooks(),
        fleetNodes: FleetNodes? = nil,
        onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.hooks = hooks
        self.fleetNodes = fleetNodes
        self.configuration = configuration
        self.hub = hub
        self.directory = directory
        self.info = info
        self.group = group
        self.logger = logger
        self.onBound = onBound
    }

    /// Listens until graceful shutdown, then closes every connection.
    public func run() async throws {
        let hub = self.hub
        let directory = self.directory
        let info = self.info
        let logger = self.logger
        let configuration = self.configuration
        let hooks = self.hooks
        let fleetNodes = self.fleetNodes
        let metrics = NodeMetrics(role: info.role, name: info.name)
        let limiter = ConnectionLimiter(maxPerAddress: configuration.maxConnectionsPerAddress)
        let services = ConnectionServices(
            hub: hub, directory: directory, info: info, metrics: metrics, fleetNodes: fleetNodes, hooks: hooks,
            requestTimeout: configuration.requestTimeout, maxListeners: configuration.maxListeners
        )
        let highWater = self.highWater
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketSendBuffer))
            .childChannelOption(.writeBufferWaterMark, value: .init(low: highWater / 2, high: highWater))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimitHandler(limiter: limiter))
                    if let tls = configuration.tls { try channel.pipeline.syncOperations.addHandler(TLSSniffer(store: tls)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ICYRequestDecoder(limits: configuration.limits)))
                    try channel.pipeline.syncOperations.addHandler(ConnectionRouter(services: services, logger: logger))
                }
            }
        let channel: Channel
        if let socket = configuration.listeningSocket {
            channel = try await bootstrap.withBoundSocket(socket).get()
        } else {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        }
        self.listener.withLockedValue { $0 = channel }
        if let address = channel.localAddress {
            var metadata: Logger.Metadata = ["listen.address": "\(address)"]
            if let tls = configuration.tls {
                metadata["tls.mode"] = "\(tls.mode.rawValue)"
                metadata["tls.serial"] = "\(tls.current.serial)"
                metadata["tls.not_after"] = "\(tls.current.notValidAfter)"
            }
            self.logger.info(configuration.tls == nil ? "listening" : "listening (https\(configuration.tls?.mode == .auto ? " and http" : " only"))", metadata: metadata)
            self.onBound(address)
        }
        // Closed on graceful shutdown, and when the group is cancelled because another service
        // failed (the ingest's upstream refused, say), so that the node exits.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        try await hub.closeAll().get()
        self.logger.info("stopped serving")
    }

    /// Bytes queued for one connection beyond which its channel is not writable.
    private var highWater: Int { max(self.hub.configuration.maxListenerLagBytes, 16 * 1024) }

    // MARK: Hand-over

    /// Stops (or resumes) accepting connections; those that arrive meanwhile wait in the
    /// listening socket's queue, for whichever process serves it next.
    public func setAccepting(_ accepting: Bool) async {
        guard let channel = self.listener.withLockedValue({ $0 }) else { return }
        try? await channel.setOption(.autoRead, value: accepting).get()
    }

    /// A duplicate of the listening socket's descriptor, for the process that takes over.
    public func listeningDescriptor() -> CInt? {
        guard let channel = self.listener.withLockedValue({ $0 }),
            let fd = OpenSockets().descriptor(local: channel.localAddress, remote: nil)
        else { return nil }
        let copy = dup(fd)
        return copy >= 0 ? copy : nil
    }

    /// Connections taken over from another process, set up but silent until ``activate(_:)``.
    public struct Adopted: Sendable {
        let starts: [@Sendable () -> Void]
        let channels: [Channel]
        /// How many sockets could not be taken (closed at once).
        public let failed: Int
    }

    /// Takes over the sockets of players and child peers that another process served (or that
    /// this one handed over, when the hand-over failed): each gets its channel and handler,
    /// writing nothing until ``activate(_:)``. The descriptors belong to the channels from now on.
    public func adopt(_ connections: [(descriptor: CInt, state: HandoverState.Connection)]) async -> Adopted {
        let (hub, directory, hooks, logger, maxListeners) = (self.hub, self.directory, self.hooks, self.logger, self.configuration.maxListeners)
        let highWater = self.highWater
        var starts: [@Sendable () -> Void] = []
        var channels: [Channel] = []
        var failed = 0
        for (descriptor, state) in connections {
            let unwritten = ByteBuffer(bytes: state.unwritten)
            let start = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
            let bootstrap = ClientBootstrap(group: self.group)
                .channelOption(.writeBufferWaterMark, value: .init(low: highWater / 2, high: highWater))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let loop = channel.eventLoop
                        if let player = state.player {
                            let handler = PlayerConnectionHandler(hub: hub, directory: directory, maxListeners: maxListeners, logger: logger, resuming: player, unwritten: unwritten)
                            try channel.pipeline.syncOperations.addHandler(handler)
                            let sendable = NIOLoopBound(handler, eventLoop: loop)
                            start.withLockedValue { $0 = { loop.execute { sendable.value.activate() } } }
                        } else if let peer = state.peer {
                            let handler = PeerConnectionHandler(hub: hub, directory: directory, hooks: hooks, logger: logger, resuming: peer, unwritten: unwritten)
                            try channel.pipeline.syncOperations.addHandler(handler)
                            if !peer.observer { directory?.adoptChild(peer.name) }
                            let sendable = NIOLoopBound(handler, eventLoop: loop)
                            start.withLockedValue { $0 = { loop.execute { sendable.value.activate() } } }
                        }
                    }
                }
            do {
                channels.append(try await bootstrap.withConnectedSocket(descriptor).get())
                if let run = start.withLockedValue({ $0 }) { starts.append(run) } else { failed += 1 }
            } catch {
                logger.warning("a handed-over socket could not be taken", metadata: ["error": "\(error)"])
                close(descriptor)
                failed += 1
            }
        }
        return Adopted(starts: starts, channels: channels, failed: failed)
    }

    /// Lets adopted connections go without a word (the take-over failed and the old process
    /// serves them): only this process's descriptors are closed.
    public func abandon(_ adopted: Adopted) {
        for channel in adopted.channels { channel.close(promise: nil) }
    }

    /// Starts serving adopted connections: each writes its unwritten bytes, then follows the hub.
    public func activate(_ adopted: Adopted) {
        for start in adopted.starts { start() }
    }
}
