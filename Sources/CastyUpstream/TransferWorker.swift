import Atomics
import CastyStream
import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// The thread under an ``UpstreamPuller`` or a ``ParentLink``: runs blocking transfers (libcurl's)
/// one after another, off Swift's cooperative threads, and waits between failed attempts as a
/// ``ReconnectBackoff`` says.
///
/// The worker owns the thread, the stop flag every transfer polls, the wake-up that cuts a backoff
/// wait short, and the retry loop. The stop flag is the running transfer's: ``stop()`` sets it and
/// ends the worker; ``endTransfer()`` sets it and lets the retry loop go on (a mirror that must
/// leave its parent now). What one attempt does is the caller's: the body given to
/// ``start(_:)`` runs on the thread and hands ``Context/runAttempts(_:)`` the step that performs
/// one transfer and says what comes next, so the worker knows nothing of curl and is tested with
/// fake transfers.
///
/// ``stop()`` sets the stop flag, wakes the thread and suspends until the thread has ended; it never
/// blocks the calling thread, and may be called any number of times, before or after `start`.
public final class TransferWorker: Sendable {
    /// What the worker does after an attempt.
    public enum Next {
        /// Ends the retry loop (the upstream refused for good, say).
        case stop
        /// The next attempt at once, without touching the backoff.
        case now
        /// The next attempt after the backoff's next delay, which `announce` is told first (to log
        /// it or report it) on the worker's thread.
        case backoff(announce: (Duration) -> Void = { _ in })
    }

    /// What the body sees of its worker; used on the worker's thread only.
    public final class Context {
        private let worker: TransferWorker
        private var backoff: ReconnectBackoff

        fileprivate init(worker: TransferWorker, backoff: ReconnectBackoff) {
            self.worker = worker
            self.backoff = backoff
        }

        /// The running transfer's stop condition: becomes true when ``TransferWorker/stop()`` or
        /// ``TransferWorker/endTransfer()`` is called; a transfer polls it to end early
        /// (``CurlTransfer/run(stop:handler:)`` does every 50 ms, and before handing on any bytes).
        /// Cleared before each attempt.
        public var stopFlag: ManagedAtomic<Bool> { self.worker.transferStop }

        /// Whether the worker is being stopped.
        public var isStopping: Bool { self.worker.stopFlag.load(ordering: .sequentiallyConsistent) }

        /// Whether this attempt's transfer was told to end by ``TransferWorker/endTransfer()``
        /// (the worker itself not being stopped).
        public var transferWasEnded: Bool { self.worker.transferStop.load(ordering: .sequentiallyConsistent) && !self.isStopping }

        /// Starts the backoff over, after an attempt that worked.
        public func resetBackoff() {
            self.backoff.reset()
        }

        /// The retry loop: calls `attempt` until it says ``Next/stop`` or the worker is stopped,
        /// waiting the backoff's next delay after every attempt that says ``Next/backoff(announce:)``.
        /// The wait ends at once when the worker is stopped.
        public func runAttempts(_ attempt: (Context) -> Next) {
            while true {
                // A new transfer, which an ``TransferWorker/endTransfer()`` made before it does not end. Cleared
                // before the worker's flag is read, which ``TransferWorker/stop()`` sets first: a stop
                // is never lost.
                self.worker.transferStop.store(false, ordering: .sequentiallyConsistent)
                guard !self.isStopping else { return }
                let next = attempt(self)
                guard !self.isStopping else { return }
                switch next {
                case .stop:
                    return
                case .now:
                    continue
                case .backoff(let announce):
                    let delay = self.backoff.next()
                    announce(delay)
                    self.worker.sleep(delay)
                }
            }
        }
    }

    private enum Phase {
        /// Not started, not stopped.
        case idle
        /// The thread runs; these are waiting for its end.
        case running(waiters: [CheckedContinuation<Void, Never>])
        /// The thread ended, or the worker was stopped before it started.
        case ended
    }

    private let name: String
    private let backoff: ReconnectBackoff
    /// Set by ``stop()``: the worker ends.
    private let stopFlag = ManagedAtomic(false)
    /// The running transfer's stop condition: set by ``stop()`` and ``endTransfer()``, cleared
    /// before each attempt.
    private let transferStop = ManagedAtomic(false)
    /// Signalled once, by the first ``stop()``; cuts a backoff wait short.
    private let wake = DispatchSemaphore(value: 0)
    private let phase = NIOLockedValueBox(Phase.idle)

    /// Creates a worker whose thread is called `name` and whose retry loop waits as `backoff` says.
    public init(name: String, backoff: ReconnectBackoff = ReconnectBackoff()) {
        self.name = name
        self.backoff = backoff
    }

    /// Whether ``stop()`` was called.
    public var isStopping: Bool { self.stopFlag.load(ordering: .sequentiallyConsistent) }

    /// Starts the thread, which runs `body` and ends when it returns.
    ///
    /// - Returns: `false`, running nothing, when the worker was started before or already stopped.
    @discardableResult
    public func start(_ body: @escaping @Sendable (Context) -> Void) -> Bool {
        let starting = self.phase.withLockedValue { phase in
            guard case .idle = phase else { return false }
            phase = .running(waiters: [])
            return true
        }
        guard starting else { return false }
        let thread = Thread { [backoff = self.backoff] in
            body(Context(worker: self, backoff: backoff))
            self.ended()
        }
        thread.name = self.name
        thread.start()
        return true
    }

    /// Stops the worker: sets the stop flag (the running transfer ends within its polling interval),
    /// cuts a backoff wait short, and returns once the thread has ended. Suspends, never blocks.
    /// Stopping a worker that never started ends it for good (a later ``start(_:)`` runs nothing).
    public func stop() async {
        if !self.stopFlag.exchange(true, ordering: .sequentiallyConsistent) {
            self.wake.signal()
        }
        self.transferStop.store(true, ordering: .sequentiallyConsistent)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let endedAlready = self.phase.withLockedValue { phase in
                switch phase {
                case .idle:
                    phase = .ended
                    return true
                case .running(var waiters):
                    waiters.append(continuation)
                    phase = .running(waiters: waiters)
                    return false
                case .ended:
                    return true
                }
            }
            if endedAlready { continuation.resume() }
        }
    }

    /// Ends the running transfer, as ``stop()`` would, but not the worker: the transfer sees its
    /// stop flag (within its polling interval, and before it hands on any more bytes) and the retry
    /// loop goes on with the step's next attempt. Called between two transfers, it ends nothing.
    /// Returns at once; may be called from any thread, the transfer's own included.
    public func endTransfer() {
        self.transferStop.store(true, ordering: .sequentiallyConsistent)
    }

    /// The thread's last act: resumes everyone waiting in ``stop()``.
    private func ended() {
        let waiters = self.phase.withLockedValue { phase in
            defer { phase = .ended }
            guard case .running(let waiters) = phase else { return [CheckedContinuation<Void, Never>]() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits `delay` on the worker's thread, or less when the worker is stopped meanwhile.
    private func sleep(_ delay: Duration) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = max(0, seconds) * 1_000_000_000 + attoseconds / 1_000_000_000
        if self.wake.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds))) == .success {
            self.wake.signal()  // stays signalled, should anything wait again
        }
    }
}
