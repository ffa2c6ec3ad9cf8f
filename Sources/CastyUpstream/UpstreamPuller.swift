import Atomics
import CastyICY
import CastyStream
import Logging

/// Keeps pulling an upstream: runs ``CurlTransfer`` after ``CurlTransfer`` on the thread of a
/// ``TransferWorker``, and after every failure logs the cause and waits a capped exponential backoff
/// (``ReconnectBackoff``) before the next attempt. Nothing an upstream does stops it; only
/// ``stop()`` does. Across a reconnect, a ``ReconnectSplicer`` drops the audio the radio sends again
/// (its burst to a new client), so the segments it reports go on from exactly where the last
/// connection stopped.
public final class UpstreamPuller: Sendable {
    /// What the puller reports besides events.
    public enum Status: Sendable, Equatable {
        /// A connection is being made.
        case connecting
        /// Connected and receiving.
        case connected
        /// The last attempt failed; the next one comes after `delay`.
        case retrying(after: Duration, cause: String)
        /// Stopped (or, with `--on-demand`, idle).
        case stopped
        /// The URL is not a stream Casty can relay; the puller stopped trying.
        case refused(String)
    }

    /// Runs one transfer to its end on the worker's thread: the real one is
    /// ``CurlTransfer/run(stop:handler:)``; tests give a fake.
    typealias PerformTransfer = @Sendable (CurlTransfer, ManagedAtomic<Bool>, CurlStreamHandler) -> UpstreamFailure?

    private let transfer: CurlTransfer
    private let makeHandler: @Sendable (String, @escaping (UpstreamEvent) -> Void) -> CurlStreamHandler
    private let logger: Logger
    private let worker: TransferWorker
    private let perform: PerformTransfer
    /// What the process this one took over from had sent last (an upgrade): the first
    /// connection is spliced onto it, as after a reconnect.
    private let resumeAfter: [ICYSegment]

    /// Creates a puller for a radio: every transfer's body is decoded as ICY.
    /// `resumeAfter`: the segments another process of this ingest sent last (a take-over); the
    /// first connection is spliced onto them.
    public convenience init(configuration: CurlTransfer.Configuration, audioOnlySegmentSize: Int = 16_000, resumeAfter: [ICYSegment] = [], logger: Logger) {
        let limits = configuration.limits
        self.init(configuration: configuration, logger: logger, backoff: ReconnectBackoff(), resumeAfter: resumeAfter) { url, onEvent in
            ICYStreamHandler(url: url, limits: limits, audioOnlySegmentSize: audioOnlySegmentSize, onEvent: onEvent)
        } perform: {
            $0.run(stop: $1, handler: $2)
        }
    }

    /// Creates a puller whose transfers' bodies are handled by what `makeHandler` returns for
    /// the URL of each transfer.
    public convenience init(
        configuration: CurlTransfer.Configuration,
        logger: Logger,
        makeHandler: @escaping @Sendable (String, @escaping (UpstreamEvent) -> Void) -> CurlStreamHandler
    ) {
        self.init(configuration: configuration, logger: logger, backoff: ReconnectBackoff(), makeHandler: makeHandler) {
            $0.run(stop: $1, handler: $2)
        }
    }

    /// Creates a puller that waits as `backoff` says between attempts and runs each transfer with
    /// `perform`.
    init(
        configuration: CurlTransfer.Configuration,
        logger: Logger,
        backoff: ReconnectBackoff,
        resumeAfter: [ICYSegment] = [],
        makeHandler: @escaping @Sendable (String, @escaping (UpstreamEvent) -> Void) -> CurlStreamHandler,
        perform: @escaping PerformTransfer
    ) {
        self.resumeAfter = resumeAfter
        self.transfer = CurlTransfer(configuration: configuration)
        self.makeHandler = makeHandler
        self.logger = logger
        self.worker = TransferWorker(name: "casty-upstream", backoff: backoff)
        self.perform = perform
    }

    /// Starts pulling on a new thread. `onEvent` and `onStatus` are called on that thread. Does
    /// nothing when the puller was started or stopped before.
    public func start(
        onStatus: @escaping @Sendable (Status) -> Void,
        onEvent: @escaping @Sendable (UpstreamEvent) -> Void
    ) {
        self.worker.start { context in
            if self.loop(context, onStatus: onStatus, onEvent: onEvent) != .refused {
                onStatus(.stopped)
            }
        }
    }

    /// Stops pulling: ends the running transfer (within 50 ms) or the wait before the next one,
    /// and returns once the thread has ended (after its last status, `.stopped`). Suspends the
    /// calling task without blocking its thread; safe to call twice, or before ``start(onStatus:onEvent:)``.
    public func stop() async {
        await self.worker.stop()
    }

    private enum End { case stopped, refused }

    private func loop(
        _ context: TransferWorker.Context,
        onStatus: @escaping @Sendable (Status) -> Void,
        onEvent: @escaping @Sendable (UpstreamEvent) -> Void
    ) -> End {
        var end = End.stopped
        var splicer = ReconnectSplicer()
        // A take-over: the first connection is a reconnect, spliced onto what the old process sent.
        for segment in self.resumeAfter { _ = splicer.process(segment) }
        var advised = false
        var playlist = PlaylistCursor(url: self.transfer.configuration.url)
        context.runAttempts { context in
            let url = playlist.current
            onStatus(.connecting)
            self.logger.info("connecting to upstream", metadata: ["upstream.url": "\(url)"])
            var receivedSegments = 0
            let handler = self.makeHandler(url) { event in
                switch event {
                case .connected(let head, let framing):
                    self.logger.info(
                        "upstream connected",
                        metadata: ["upstream.url": "\(url)", "upstream.status": "\(head.status)", "upstream.framing": "\(framing)"]
                    )
                    onStatus(.connected)
                    for segment in splicer.reconnected() { onEvent(.segment(segment)) }
                    onEvent(event)
                case .segment(let segment):
                    receivedSegments += 1
                    if receivedSegments == 2 { context.resetBackoff() }
                    let deciding = splicer.lastOutcome == nil
                    for out in splicer.process(segment) { onEvent(.segment(out)) }
                    if deciding, let outcome = splicer.lastOutcome { self.logSplice(outcome, url: url) }
                }
            }
            var transfer = self.transfer
            transfer.configuration.url = url
            guard let failure = self.perform(transfer, context.stopFlag, handler), !context.isStopping else { return .stop }
            switch failure {
            case .notAStream(let message):
                self.logger.error("\(message)", metadata: ["upstream.url": "\(url)"])
                end = .refused
                onStatus(.refused(message))
                return .stop
            case .playlist(let entries):
                guard playlist.follow(entries) else {
                    let message = "\(url) is a playlist that lists playlists more than \(PlaylistCursor.maxDepth) deep; give a stream's URL"
                    self.logger.error("\(message)")
                    end = .refused
                    onStatus(.refused(message))
                    return .stop
                }
                self.logger.notice(
                    "following a playlist",
                    metadata: ["upstream.playlist": "\(url)", "upstream.entries": "\(entries.joined(separator: " "))"]
                )
                return .now
            default:
                break
            }
            // An entry of a playlist that cannot be reached gives way to the next one, as players do.
            if receivedSegments == 0, let next = playlist.advance() {
                self.logger.warning(
                    "playlist entry unreachable; trying the next one",
                    metadata: ["upstream.url": "\(url)", "upstream.cause": "\(failure)", "upstream.next": "\(next)"]
                )
                return .now
            }
            return .backoff { delay in
                // The first failure to reach an upstream says what to do, once.
                if !advised, let advice = failure.firstAttemptAdvice(url: url) {
                    self.logger.error("\(advice)", metadata: ["upstream.url": "\(url)"])
                }
                advised = true
                self.logger.warning(
                    "upstream lost; reconnecting",
                    metadata: ["upstream.url": "\(url)", "upstream.cause": "\(failure)", "upstream.retry_in_ms": "\(delay.milliseconds)"]
                )
                onStatus(.retrying(after: delay, cause: failure.description))
            }
        }
        return end
    }

    private func logSplice(_ outcome: ReconnectSplicer.Outcome, url: String) {
        switch outcome {
        case .spliced(let repeated):
            self.logger.info(
                "upstream reconnected: dropped the audio it sent again",
                metadata: ["upstream.url": "\(url)", "upstream.repeated_bytes": "\(repeated)"]
            )
        case .noOverlap:
            self.logger.info("upstream reconnected: its audio does not continue the last connection's (a gap or a new stream)", metadata: ["upstream.url": "\(url)"])
        }
    }
}

/// Which URL a puller pulls: the one it was given, or, once that turned out to be a playlist, the
/// playlist's entries in order; after the last entry fails, the playlist is read again.
struct PlaylistCursor {
    /// How many playlists may lead to one another.
    static let maxDepth = 3
    private let root: String
    private var entries: [String] = []
    private var index = 0
    private var depth = 0

    init(url: String) {
        self.root = url
    }

    /// The URL to pull next.
    var current: String { self.entries.isEmpty ? self.root : self.entries[self.index] }

    /// Follows a playlist's entries; `false` when playlists nest too deep.
    mutating func follow(_ entries: [String]) -> Bool {
        self.depth = self.entries.isEmpty ? 1 : self.depth + 1
        guard self.depth <= Self.maxDepth, !entries.isEmpty else {
            self.entries = []
            return false
        }
        self.entries = entries
        self.index = 0
        return true
    }

    /// Moves to the next entry after a failure; `nil` (back to the playlist itself, after the
    /// usual backoff) when there is no next entry.
    mutating func advance() -> String? {
        guard !self.entries.isEmpty else { return nil }
        self.index += 1
        if self.index < self.entries.count { return self.entries[self.index] }
        self.entries = []
        self.index = 0
        return nil
    }
}
