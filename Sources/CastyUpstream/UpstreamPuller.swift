import Atomics
import CastyICY
import CastyStream
import Logging

/// Keeps pulling an upstream: runs ``CurlTransfer`` after ``CurlTransfer`` on the thread of a
/// ``TransferWorker``, and after every failure logs the cause and waits a capped exponential backoff
/// (``ReconnectBackoff``) before the next attempt. Nothing an upstream does stops it; only
/// ``stop()`` does.
///
/// The puller is not on a segment's path: each transfer's ``ICYStreamHandler`` hands its segments
/// straight to the ``RadioSink`` given to ``start(sink:onStatus:)``. The puller lends each handler
/// the ``ReconnectSplicer`` that lives across transfers (it drops the audio the radio sends again
/// after a reconnect, its burst to a new client, so the stream goes on from exactly where the last
/// connection stopped) and takes it back once the transfer ended; it hears only of a transfer's
/// one-off events (connected, the splice decided) and keeps the per-transfer bookkeeping (status,
/// logs, backoff, playlists).
public final class UpstreamPuller: Sendable {
    /// What the puller reports about its connection.
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
    private let audioOnlySegmentSize: Int
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
        self.init(
            configuration: configuration, audioOnlySegmentSize: audioOnlySegmentSize, logger: logger, backoff: ReconnectBackoff(), resumeAfter: resumeAfter
        ) {
            $0.run(stop: $1, handler: $2)
        }
    }

    /// Creates a puller that waits as `backoff` says between attempts and runs each transfer with
    /// `perform`.
    init(
        configuration: CurlTransfer.Configuration,
        audioOnlySegmentSize: Int = 16_000,
        logger: Logger,
        backoff: ReconnectBackoff,
        resumeAfter: [ICYSegment] = [],
        perform: @escaping PerformTransfer
    ) {
        self.resumeAfter = resumeAfter
        self.transfer = CurlTransfer(configuration: configuration)
        self.audioOnlySegmentSize = audioOnlySegmentSize
        self.logger = logger
        self.worker = TransferWorker(name: "casty-upstream", backoff: backoff)
        self.perform = perform
    }

    /// Starts pulling on a new thread: each connection's head and segments go to `sink`, the
    /// puller's statuses to `onStatus`, both on that thread. Does nothing when the puller was
    /// started or stopped before.
    public func start(sink: any RadioSink, onStatus: @escaping @Sendable (Status) -> Void) {
        self.worker.start { context in
            if self.loop(context, sink: sink, onStatus: onStatus) != .refused {
                onStatus(.stopped)
            }
        }
    }

    /// Stops pulling: ends the running transfer (within 50 ms) or the wait before the next one,
    /// and returns once the thread has ended (after its last status, `.stopped`). Suspends the
    /// calling task without blocking its thread; safe to call twice, or before ``start(sink:onStatus:)``.
    public func stop() async {
        await self.worker.stop()
    }

    private enum End { case stopped, refused }

    private func loop(_ context: TransferWorker.Context, sink: any RadioSink, onStatus: @escaping @Sendable (Status) -> Void) -> End {
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
            let handler = ICYStreamHandler(
                url: url, limits: self.transfer.configuration.limits, audioOnlySegmentSize: self.audioOnlySegmentSize, splicer: splicer, sink: sink
            ) { event in
                switch event {
                case .connected(let head, let framing):
                    self.logger.info(
                        "upstream connected",
                        metadata: ["upstream.url": "\(url)", "upstream.status": "\(head.status)", "upstream.framing": "\(framing)"]
                    )
                    onStatus(.connected)
                case .spliced(let outcome):
                    self.logSplice(outcome, url: url)
                }
            }
            var transfer = self.transfer
            transfer.configuration.url = url
            let failure = self.perform(transfer, context.stopFlag, handler)
            // The splicer goes on into the next transfer: what this one's splice still holds comes
            // out first there.
            splicer = handler.splicer
            // A connection that gave two segments worked: the next failure starts the backoff over.
            if handler.segmentsReceived >= 2 { context.resetBackoff() }
            guard let failure, !context.isStopping else { return .stop }
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
            if handler.segmentsReceived == 0, let next = playlist.advance() {
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
