import Atomics
import CastyStream
import CastyUpstream
import CastyServer
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// An ingest's radio feeding its hub: runs an ``UpstreamSource`` for as long as the node runs,
/// or, on demand, only while someone listens (players or peers), until the idle time after the
/// last one left (see ``OnDemandPolicy``).
///
/// The service only wires the source: the radio's head and segments go from the source's handler
/// straight to the hub (its ``CastyUpstream/RadioSink``), not through the service. The source's
/// status becomes the hub's ``CastyServer/UpstreamState``; every connection after the first counts
/// as a reconnect. A source that refuses the radio (not a stream Casty can
/// relay) ends the service with ``UpstreamRefused``.
public struct UpstreamService: Service {
    let makeSource: @Sendable () -> any UpstreamSource
    let hub: StreamHub
    let onDemandIdle: Duration?
    let pollInterval: Duration
    let logger: Logger
    /// Connections made so far, over every source this service started.
    let connections = ManagedAtomic(0)
    /// The source pulling now, for ``letGo()``.
    let current = NIOLockedValueBox<(any UpstreamSource)?>(nil)
    /// Set by ``letGo()``: no source is started any more.
    let released = ManagedAtomic(false)

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - makeSource: makes a source, once at start (or, on demand, at every connect).
    ///   - onDemandIdle: `nil` to pull the radio all the time; else how long nobody may listen
    ///     before it is dropped.
    ///   - pollInterval: how often, on demand, the hub's listeners are counted.
    public init(
        makeSource: @escaping @Sendable () -> any UpstreamSource,
        hub: StreamHub,
        onDemandIdle: Duration? = nil,
        pollInterval: Duration = .milliseconds(200),
        logger: Logger
    ) {
        self.makeSource = makeSource
        self.hub = hub
        self.onDemandIdle = onDemandIdle
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Pulls until graceful shutdown (or cancellation); throws ``UpstreamRefused`` when the
    /// source refuses the radio.
    public func run() async throws {
        let (refusals, refusal) = AsyncStream.makeStream(of: String.self)
        let refused: String?
        if let idle = self.onDemandIdle {
            refused = await self.followListeners(idle: idle, refusals: refusals, refusal: refusal)
        } else {
            let source = self.start(refusal: refusal)
            refused = await Self.first(of: refusals.cancelOnGracefulShutdown())
            await source.stop()
        }
        if let refused { throw UpstreamRefused(message: refused) }
    }

    /// On demand: connects and disconnects as the listeners come and go, until graceful shutdown
    /// or a refusal, whose message it returns.
    private func followListeners(idle: Duration, refusals: AsyncStream<String>, refusal: AsyncStream<String>.Continuation) async -> String? {
        self.hub.setUpstreamState(.idleOnDemand)
        return await withTaskGroup(of: String?.self) { group in
            group.addTask { await Self.first(of: refusals) }
            group.addTask {
                var policy = OnDemandPolicy(idle: idle)
                var source: (any UpstreamSource)?
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    let listening = self.hub.counters.listeners + self.hub.counters.peers > 0
                    switch policy.tick(listening: listening, now: .now) {
                    case .connect:
                        self.logger.info("a listener arrived: connecting upstream (on demand)")
                        source = self.start(refusal: refusal)
                    case .disconnect:
                        self.logger.info("no listener for \(idle): disconnecting upstream (on demand)")
                        await source?.stop()
                        source = nil
                        self.hub.setUpstreamState(.idleOnDemand)
                    case .none:
                        break
                    }
                    try? await Task.sleep(for: self.pollInterval)
                }
                await source?.stop()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The first element of `sequence`, or `nil` once it ends (or the task is cancelled).
    private static func first<S: AsyncSequence & Sendable>(of sequence: S) async -> String? where S.Element == String, S.Failure == Never {
        for await message in sequence { return message }
        return nil
    }

    /// Makes and starts a source that feeds the hub; a refusal is yielded to `refusal`.
    /// Stops pulling for good (this ingest hands over to a new binary, which pulls from now on).
    public func letGo() async {
        self.released.store(true, ordering: .relaxed)
        let source = self.current.withLockedValue { $0 }
        await source?.stop()
    }

    private func start(refusal: AsyncStream<String>.Continuation) -> any UpstreamSource {
        let (hub, connections) = (self.hub, self.connections)
        let source = self.makeSource()
        self.current.withLockedValue { $0 = source }
        guard !self.released.load(ordering: .relaxed) else { return source }
        source.start(sink: hub) { status in
            if case .connected = status, connections.loadThenWrappingIncrement(ordering: .relaxed) > 0 { hub.counters.reconnected() }
            hub.setUpstreamState(UpstreamState(status))
            if case .refused(let message) = status { refusal.yield(message) }
        }
        return source
    }
}

/// The radio's URL is not a stream Casty can relay (an HLS playlist, say): the ingest stops, and
/// says why in one line.
public struct UpstreamRefused: Error, CustomStringConvertible, Equatable {
    /// Why the radio was refused.
    public var message: String
    /// The message.
    public var description: String { self.message }

    /// Creates the error.
    public init(message: String) {
        self.message = message
    }
}
