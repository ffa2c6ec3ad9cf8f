import Atomics
import CastyHandover
import CastyServer
import CastyTree
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The running node's side of an upgrade: listens on the node's control socket and, when a new
/// binary started with `--take-over` asks, hands it the listening socket, every player's and
/// child peer's socket and the ``HandoverState``, then exits (docs/PROTOCOL.md, "Hand-over to a
/// new binary").
///
/// Until the new process says it is ready, nothing is lost: if it refuses, dies or stays silent,
/// this node takes its sockets back and goes on serving, and says why in its log.
public final class HandoverService: Service, Sendable {
    /// How long the new process may take to answer each step.
    public struct Timing: Sendable {
        /// For its `hello` after it connected.
        public var hello: TimeAmount
        /// For `ready` after the state was sent.
        public var ready: TimeAmount

        /// Creates timings.
        public init(hello: TimeAmount = .seconds(5), ready: TimeAmount = .seconds(20)) {
            self.hello = hello
            self.ready = ready
        }
    }

    private let node: String
    private let path: String
    private let server: NodeServer
    private let hub: StreamHub
    private let directory: PeerDirectory?
    private let timing: Timing
    private let logger: Logger
    private let letGo: @Sendable () async -> Void
    private let exit: @Sendable () -> Void
    private let stopping = ManagedAtomic(false)

    /// Creates the service of node `node` on the control socket `path`. `letGo` runs once the new
    /// process is ready, before it is told to go (a mirror stops its parent link, an ingest its
    /// radio); `exit` ends the process after the hand-over.
    public init(
        node: String,
        path: String,
        server: NodeServer,
        hub: StreamHub,
        directory: PeerDirectory?,
        timing: Timing = Timing(),
        logger: Logger,
        letGo: @escaping @Sendable () async -> Void,
        exit: @escaping @Sendable () -> Void = { Foundation.exit(0) }
    ) {
        self.node = node
        self.path = path
        self.server = server
        self.hub = hub
        self.directory = directory
        self.timing = timing
        self.logger = logger
        self.letGo = letGo
        self.exit = exit
    }

    /// Listens on the control socket until graceful shutdown.
    public func run() async throws {
        let listener: ControlSocket.Listener
        do {
            listener = try ControlSocket.listen(path: self.path)
        } catch {
            // The node serves on; only upgrades by --take-over are not possible.
            self.logger.error("no control socket: this node cannot hand over to a new binary", metadata: ["reason": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        self.logger.info("control socket ready", metadata: ["control.path": "\(self.path)"])
        let pool = NIOThreadPool.singleton
        await withGracefulShutdownHandler {
            while !self.stopping.load(ordering: .relaxed) && !Task.isCancelled {
                let connection = try? await pool.runIfActive { try listener.accept(timeout: .milliseconds(250)) }
                guard let connection = connection ?? nil else { continue }
                if await self.serve(connection, listener: listener) { return }
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
        listener.close()
    }

    /// One new process's request. Returns whether this node handed over (and is exiting).
    private func serve(_ connection: ControlSocket.Connection, listener: ControlSocket.Listener) async -> Bool {
        let pool = NIOThreadPool.singleton
        defer { connection.close() }
        let hello: HandoverMessage
        do {
            hello = try await pool.runIfActive { try connection.receive(timeout: self.timing.hello) }
        } catch {
            self.logger.warning("control socket: no hand-over request", metadata: ["reason": "\(error)"])
            return false
        }
        guard case .hello(let versions, let binary, let pid) = hello else {
            self.logger.warning("control socket: expected a hello, got \(hello)")
            return false
        }
        guard versions.contains(HandoverState.currentFormatVersion) else {
            let reason = "this node writes hand-over state version \(HandoverState.currentFormatVersion); the new binary reads \(versions)"
            self.logger.warning("take-over refused; serving on", metadata: ["reason": "\(reason)", "new.pid": "\(pid)", "new.version": "\(binary)"])
            try? await pool.runIfActive { try connection.send(.refused(reason)) }
            return false
        }
        self.logger.notice("handing over", metadata: ["new.pid": "\(pid)", "new.version": "\(binary)"])
        let clock = ContinuousClock()
        let started = clock.now
        await self.server.setAccepting(false)
        let (connections, left) = await self.hub.handOver()
        let listening = self.server.listeningDescriptor()
        let place = self.directory.flatMap { directory -> HandoverState.Place? in
            let place = directory.place
            guard let parent = place.parent, let depth = place.depth, let path = directory.childPlace?.path.dropLast() else { return nil }
            return HandoverState.Place(parent: parent, depth: depth, path: Array(path))
        }
        let state = HandoverState(
            binaryVersion: BuildIdentity.current, node: self.node, stream: self.hub.handoverStream(), place: place,
            tree: self.directory?.tree, connections: connections.map(\.state)
        )
        let descriptors = connections.map(\.descriptor)
        var failure: String?
        if let listening {
            do {
                try await pool.runIfActive { try connection.send(.state(state), descriptors: [listening] + descriptors) }
                let answer = try await pool.runIfActive { try connection.receive(timeout: self.timing.ready) }
                switch answer {
                case .ready:
                    await self.letGo()
                    listener.close()
                    try await pool.runIfActive { try connection.send(.go) }
                    for descriptor in [listening] + descriptors { close(descriptor) }
                    self.logger.notice(
                        "handed over to pid \(pid); exiting",
                        metadata: [
                            "handover.connections": "\(connections.count)", "handover.left": "\(left)",
                            "handover.ms": "\(Int((clock.now - started) / .milliseconds(1)))",
                        ]
                    )
                    self.exit()
                    return true
                case .refused(let reason): failure = "the new process refused: \(reason)"
                default: failure = "the new process answered \(answer) instead of ready"
                }
            } catch {
                failure = "\(error)"
            }
        } else {
            failure = "the listening socket was not found"
        }
        // Nothing was lost: take everything back.
        let adopted = await self.server.adopt(connections)
        self.server.activate(adopted)
        if let listening { close(listening) }
        await self.server.setAccepting(true)
        self.logger.warning(
            "take-over failed; serving on",
            metadata: ["reason": "\(failure ?? "unknown")", "new.pid": "\(pid)", "connections.kept": "\(connections.count - adopted.failed)"]
        )
        return false
    }
}

/// A control socket that cannot be used.
public struct HandoverFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
