import Atomics
import CastyCore
import Dispatch
import Foundation
import Logging

/// Keeps pulling an upstream: runs ``CurlTransfer`` after ``CurlTransfer`` on a thread of its own,
/// and after every failure logs the cause and waits a capped exponential backoff before the next
/// attempt. Nothing an upstream does stops it; only ``stop()`` does. Across a reconnect, a
/// ``ReconnectSplicer`` drops the audio the radio sends again (its burst to a new client), so the
/// segments it reports go on from exactly where the last connection stopped.
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
    }

    private let transfer: CurlTransfer
    private let makeHandler: @Sendable (@escaping (UpstreamEvent) -> Void) -> CurlStreamHandler
    private let logger: Logger
    private let stopFlag = ManagedAtomic(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let started = ManagedAtomic(false)

    /// Creates a puller for a radio: every transfer's body is decoded as ICY.
    public convenience init(configuration: CurlTransfer.Configuration, audioOnlySegmentSize: Int = 16_000, logger: Logger) {
        let limits = configuration.limits
        self.init(configuration: configuration, logger: logger) { onEvent in
            ICYStreamHandler(limits: limits, audioOnlySegmentSize: audioOnlySegmentSize, onEvent: onEvent)
        }
    }

    /// Creates a puller whose transfers' bodies are handled by what `makeHandler` returns.
    public init(
        configuration: CurlTransfer.Configuration,
        logger: Logger,
        makeHandler: @escaping @Sendable (@escaping (UpstreamEvent) -> Void) -> CurlStreamHandler
    ) {
        self.transfer = CurlTransfer(configuration: configuration)
        self.makeHandler = makeHandler
        self.logger = logger
    }

    /// Starts pulling on a new thread. `onEvent` and `onStatus` are called on that thread.
    public func start(
        onStatus: @escaping @Sendable (Status) -> Void,
        onEvent: @escaping @Sendable (UpstreamEvent) -> Void
    ) {
        guard self.started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let thread = Thread { self.loop(onStatus: onStatus, onEvent: onEvent) }
        thread.start()
    }

    /// Stops pulling: ends the running transfer (within about a second) and waits for the thread.
    public func stop() {
        guard self.started.load(ordering: .relaxed) else { return }
        if self.stopFlag.exchange(true, ordering: .relaxed) { return }
        self.wake.signal()
        self.finished.wait()
    }

    private func loop(onStatus: @escaping @Sendable (Status) -> Void, onEvent: @escaping @Sendable (UpstreamEvent) -> Void) {
        defer {
            onStatus(.stopped)
            self.finished.signal()
        }
        var backoff = ReconnectBackoff()
        var splicer = ReconnectSplicer()
        var everConnected = false
        let url = self.transfer.configuration.url
        while !self.stopFlag.load(ordering: .relaxed) {
            onStatus(.connecting)
            self.logger.info("connecting to upstream", metadata: ["upstream.url": "\(url)"])
            var receivedSegments = 0
            let handler = self.makeHandler { event in
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
                    if receivedSegments == 2 { backoff.reset() }
                    let deciding = splicer.lastOutcome == nil
                    for out in splicer.process(segment) { onEvent(.segment(out)) }
                    if deciding, let outcome = splicer.lastOutcome { self.logSplice(outcome, url: url) }
                }
            }
            let failure = self.transfer.run(stop: self.stopFlag, handler: handler)
            guard let failure, !self.stopFlag.load(ordering: .relaxed) else { break }
            let delay = backoff.next()
            if !everConnected, let advice = failure.firstAttemptAdvice(url: url) {
                self.logger.error("\(advice)", metadata: ["upstream.url": "\(url)"])
            }
            everConnected = everConnected || receivedSegments > 0
            self.logger.warning(
                "upstream lost; reconnecting",
                metadata: ["upstream.url": "\(url)", "upstream.cause": "\(failure)", "upstream.retry_in_ms": "\(delay.milliseconds)"]
            )
            onStatus(.retrying(after: delay, cause: failure.description))
            _ = self.wake.wait(timeout: .now() + .milliseconds(Int(delay.milliseconds)))
        }
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
