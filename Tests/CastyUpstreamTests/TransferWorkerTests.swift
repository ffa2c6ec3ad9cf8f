import Atomics
import CastyStream
import Foundation
import NIOConcurrencyHelpers
import Testing
import CastyTestSupport

@testable import CastyUpstream

/// The worker under the puller and the parent link, with fake transfers: no curl, no sockets.
@Suite struct TransferWorkerTests {
    /// A fake transfer: runs until the worker is stopped, polling the stop flag as
    /// `CurlTransfer.run` does (every 50 ms).
    static func transferUntilStopped(_ context: TransferWorker.Context) {
        while !context.stopFlag.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Waits (suspending) until `condition` holds, for at most `seconds`.
    static func waitUntil(_ seconds: Double = 20, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !condition() {
            guard ContinuousClock.now < deadline else { throw WaitTimedOut() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct WaitTimedOut: Error {}

    @Test func stopBeforeStartReturnsAndTheWorkerNeverRuns() async {
        let worker = TransferWorker(name: "test")
        let ran = ManagedAtomic(false)
        await worker.stop()
        #expect(worker.start { _ in ran.store(true, ordering: .relaxed) } == false)
        await worker.stop()
        // Nothing to wait on: that the body never runs is the point; 50 ms gives a thread, had
        // one been started, ample time to run it.
        try? await Task.sleep(for: .milliseconds(50))
        #expect(!ran.value)
    }

    @Test func startTwiceRunsOneThread() async throws {
        let worker = TransferWorker(name: "test")
        let runs = ManagedAtomic(0)
        let body: @Sendable (TransferWorker.Context) -> Void = { context in
            runs.wrappingIncrement(ordering: .relaxed)
            context.runAttempts { context in
                Self.transferUntilStopped(context)
                return .now
            }
        }
        #expect(worker.start(body))
        #expect(!worker.start(body))
        try await Self.waitUntil { runs.load(ordering: .relaxed) == 1 }
        await worker.stop()
        #expect(runs.value == 1)
    }

    @Test func stopDuringATransferReturnsPromptlyOnceTheThreadEnded() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test")
            let inTransfer = ManagedAtomic(false)
            let exited = ManagedAtomic(false)
            worker.start { context in
                context.runAttempts { context in
                    inTransfer.store(true, ordering: .relaxed)
                    Self.transferUntilStopped(context)
                    return .backoff()
                }
                exited.store(true, ordering: .relaxed)
            }
            try await Self.waitUntil { inTransfer.load(ordering: .relaxed) }
            let clock = ContinuousClock()
            let took = await clock.measure { await worker.stop() }
            #expect(took < atOnce)
            // stop() returns only after the thread's body has ended.
            #expect(exited.value)
        }
    }

    @Test func stopDuringABackoffWaitReturnsPromptly() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test", backoff: ReconnectBackoff(initial: .seconds(30), maximum: .seconds(60)))
            let waiting = ManagedAtomic(false)
            let attempts = ManagedAtomic(0)
            worker.start { context in
                context.runAttempts { _ in
                    attempts.wrappingIncrement(ordering: .relaxed)
                    return .backoff { _ in waiting.store(true, ordering: .relaxed) }
                }
            }
            try await Self.waitUntil { waiting.load(ordering: .relaxed) }
            let took = await ContinuousClock().measure { await worker.stop() }
            #expect(took < atOnce)
            #expect(attempts.value == 1)
        }
    }

    @Test func stopTwiceAndConcurrentlyReturnsEveryTime() async throws {
        let worker = TransferWorker(name: "test")
        let inTransfer = ManagedAtomic(false)
        worker.start { context in
            context.runAttempts { context in
                inTransfer.store(true, ordering: .relaxed)
                Self.transferUntilStopped(context)
                return .now
            }
        }
        try await Self.waitUntil { inTransfer.load(ordering: .relaxed) }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<5 { group.addTask { await worker.stop() } }
        }
        await worker.stop()
        await worker.stop()
        #expect(worker.isStopping)
    }

    /// `endTransfer()` ends the running transfer through the same stop flag as `stop()`, but the
    /// worker goes on: the next attempt starts with the flag cleared, and tells the two apart.
    @Test func endTransferEndsTheRunningTransferButNotTheWorker() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test")
            let attempts = ManagedAtomic(0)
            let ended = NIOLockedValueBox<[Bool]>([])
            let flagAtStart = NIOLockedValueBox<[Bool]>([])
            worker.start { context in
                context.runAttempts { context in
                    flagAtStart.withLockedValue { $0.append(context.stopFlag.load(ordering: .relaxed)) }
                    attempts.wrappingIncrement(ordering: .relaxed)
                    Self.transferUntilStopped(context)
                    ended.withLockedValue { $0.append(context.transferWasEnded) }
                    return .now
                }
            }
            try await Self.waitUntil { attempts.load(ordering: .relaxed) == 1 }
            worker.endTransfer()
            try await Self.waitUntil { attempts.load(ordering: .relaxed) == 2 }
            #expect(!worker.isStopping)
            worker.endTransfer()
            try await Self.waitUntil { attempts.load(ordering: .relaxed) == 3 }
            let took = await ContinuousClock().measure { await worker.stop() }
            #expect(took < atOnce)
            #expect(ended.withLockedValue { $0 } == [true, true, false], "the last transfer ended by stop(), not endTransfer()")
            #expect(flagAtStart.withLockedValue { $0 } == [false, false, false], "each transfer starts with its stop flag clear")
        }
    }

    /// An `endTransfer()` between two transfers (here, as the backoff wait starts) ends neither.
    @Test func endTransferBetweenTransfersEndsNothing() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test", backoff: ReconnectBackoff(initial: .milliseconds(10), maximum: .milliseconds(10)))
            let attempts = ManagedAtomic(0)
            let secondStartsStopped = NIOLockedValueBox<Bool?>(nil)
            worker.start { context in
                context.runAttempts { context in
                    guard attempts.loadThenWrappingIncrement(ordering: .relaxed) > 0 else { return .backoff { _ in worker.endTransfer() } }
                    secondStartsStopped.withLockedValue { $0 = context.stopFlag.load(ordering: .relaxed) }
                    return .stop
                }
            }
            try await Self.waitUntil { secondStartsStopped.withLockedValue { $0 } != nil }
            #expect(secondStartsStopped.withLockedValue { $0 } == false)
            await worker.stop()
        }
    }

    @Test func aBodyThatEndsByItselfEndsTheWorker() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test")
            let attempts = ManagedAtomic(0)
            let exited = ManagedAtomic(false)
            worker.start { context in
                context.runAttempts { _ in
                    attempts.loadThenWrappingIncrement(ordering: .relaxed) < 2 ? .now : .stop
                }
                exited.store(true, ordering: .relaxed)
            }
            try await Self.waitUntil { exited.load(ordering: .relaxed) }
            #expect(attempts.value == 3)
            let took = await ContinuousClock().measure { await worker.stop() }
            #expect(took < atOnce)
        }
    }

    @Test func backoffDelaysFollowReconnectBackoff() async throws {
        try await onDedicatedThread {
            let backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(80))
            let worker = TransferWorker(name: "test", backoff: backoff)
            let starts = NIOLockedValueBox<[ContinuousClock.Instant]>([])
            let announced = NIOLockedValueBox<[Duration]>([])
            let exited = ManagedAtomic(false)
            worker.start { context in
                context.runAttempts { context in
                    let attempt = starts.withLockedValue { starts in
                        starts.append(.now)
                        return starts.count
                    }
                    switch attempt {
                    case 1...5: return .backoff { delay in announced.withLockedValue { $0.append(delay) } }
                    case 6:
                        // An attempt that worked: the next failure starts the backoff over.
                        context.resetBackoff()
                        return .now
                    case 7: return .backoff { delay in announced.withLockedValue { $0.append(delay) } }
                    default: return .stop
                    }
                }
                exited.store(true, ordering: .relaxed)
            }
            try await Self.waitUntil { exited.load(ordering: .relaxed) }
            await worker.stop()

            var expected = backoff
            let schedule = (0..<5).map { _ in expected.next() }
            expected.reset()
            let afterReset = expected.next()
            #expect(schedule == [20, 40, 80, 80, 80].map { Duration.milliseconds($0) })
            #expect(announced.withLockedValue { $0 } == schedule + [afterReset])

            // Each attempt after a backoff came no sooner than its delay (`nowDoesNotWait` checks `.now`).
            let times = starts.withLockedValue { $0 }
            #expect(times.count == 8)
            let waits = [schedule[0], schedule[1], schedule[2], schedule[3], schedule[4], nil, afterReset]
            for (index, delay) in waits.enumerated() {
                guard let delay else { continue }
                let gap = times[index + 1] - times[index]
                #expect(gap >= delay - .milliseconds(1), "attempt \(index + 2) came \(gap) after the previous one, before its delay \(delay)")
            }
        }
    }

    /// Attempts that say `.now` follow one another without a wait, even with a backoff of 30 s.
    @Test func nowDoesNotWait() async throws {
        try await onDedicatedThread {
            let worker = TransferWorker(name: "test", backoff: ReconnectBackoff(initial: .seconds(30), maximum: .seconds(60)))
            let attempts = ManagedAtomic(0)
            let exited = ManagedAtomic(false)
            let started = ContinuousClock.now
            worker.start { context in
                context.runAttempts { _ in
                    attempts.loadThenWrappingIncrement(ordering: .relaxed) < 3 ? .now : .stop
                }
                exited.store(true, ordering: .relaxed)
            }
            try await Self.waitUntil { exited.load(ordering: .relaxed) }
            #expect(ContinuousClock.now - started < atOnce)
            #expect(attempts.value == 4)
            await worker.stop()
        }
    }

    /// Workers stopped from tasks that all share ONE thread, while their transfers cannot end
    /// until one more task on that thread runs: if `stop()` blocked its thread, that task would
    /// never run and the transfers would run into their watchdog, 30 seconds after the stop.
    @Test func stopFromAnAsyncContextDoesNotBlockItsThread() async throws {
        try await onDedicatedThread {
            let count = 3
            let release = ManagedAtomic(false)
            let watchdogFired = ManagedAtomic(0)
            let inTransfer = ManagedAtomic(0)
            let sawStop = ManagedAtomic(0)
            let workers = (0..<count).map { _ in TransferWorker(name: "test") }
            for worker in workers {
                worker.start { context in
                    context.runAttempts { context in
                        // A transfer that ignores the stop flag until it is released (polling
                        // for the release every 2 ms, as a transfer polls its stop flag).
                        inTransfer.wrappingIncrement(ordering: .relaxed)
                        var watchdog: Date?
                        while !release.load(ordering: .relaxed) {
                            if watchdog == nil && context.isStopping {
                                watchdog = Date().addingTimeInterval(30)
                                sawStop.wrappingIncrement(ordering: .relaxed)
                            }
                            if let watchdog, Date() > watchdog {
                                watchdogFired.wrappingIncrement(ordering: .relaxed)
                                break
                            }
                            Thread.sleep(forTimeInterval: 0.002)
                        }
                        return .backoff()
                    }
                }
            }
            try await Self.waitUntil { inTransfer.load(ordering: .relaxed) == count }
            let took = await ContinuousClock().measure {
                await withTaskGroup(of: Void.self) { group in
                    for worker in workers {
                        group.addTask { await worker.stop() }
                    }
                    group.addTask {
                        // Runs only if the thread is free while every stop() is pending.
                        while !workers.allSatisfy(\.isStopping) { await Task.yield() }
                        // Released once every transfer has seen the stop and kept running.
                        try? await Self.waitUntil { sawStop.load(ordering: .relaxed) == count }
                        release.store(true, ordering: .relaxed)
                    }
                }
            }
            #expect(watchdogFired.value == 0)
            #expect(took < atOnce)
        }
    }
}

extension ManagedAtomic {
    /// The value now (for expectations, whose macro cannot take an ordering argument).
    var value: Value { self.load(ordering: .relaxed) }
}
