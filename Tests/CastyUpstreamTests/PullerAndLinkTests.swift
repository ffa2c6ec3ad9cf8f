import Atomics
import CastyStream
import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing
import CastyTestSupport

@testable import CastyUpstream

/// The puller and the parent link on their worker, over fake transfers: their statuses, their
/// backoff and their stop, without curl or sockets.
@Suite struct PullerAndLinkTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func puller(
        backoff: ReconnectBackoff = ReconnectBackoff(initial: .milliseconds(10), maximum: .milliseconds(40)),
        perform: @escaping UpstreamPuller.PerformTransfer
    ) -> UpstreamPuller {
        UpstreamPuller(
            configuration: CurlTransfer.Configuration(url: "http://radio.invalid/stream", userAgent: "test"),
            logger: Self.quiet,
            backoff: backoff,
            perform: perform
        )
    }

    @Test func aPullerRetriesWithBackoffAndReportsStoppedLast() async throws {
        let refused = UpstreamFailure.transport(code: 7, message: "Couldn't connect to server")
        let puller = Self.puller { _, _, _ in refused }
        let statuses = NIOLockedValueBox<[UpstreamPuller.Status]>([])
        puller.start(sink: FakeSink()) { status in statuses.withLockedValue { $0.append(status) } }
        try await TransferWorkerTests.waitUntil { statuses.withLockedValue { $0.count } >= 6 }
        await puller.stop()
        let seen = statuses.withLockedValue { $0 }
        #expect(seen.last == .stopped)
        #expect(seen.filter { $0 == .stopped }.count == 1)
        let retries = seen.compactMap { status -> Duration? in
            if case .retrying(let delay, _) = status { return delay }
            return nil
        }
        #expect(Array(retries.prefix(3)) == [.milliseconds(10), .milliseconds(20), .milliseconds(40)])
        #expect(seen.prefix(2) == [.connecting, .retrying(after: .milliseconds(10), cause: refused.description)])
    }

    @Test func stoppingAPullerMidTransferIsPromptAndFinal() async throws {
        try await onDedicatedThread {
            let inTransfer = ManagedAtomic(false)
            let puller = Self.puller { _, stop, _ in
                inTransfer.store(true, ordering: .relaxed)
                // A transfer that runs until stopped, polling its stop flag as CurlTransfer does.
                while !stop.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.05) }
                return nil
            }
            let statuses = NIOLockedValueBox<[UpstreamPuller.Status]>([])
            puller.start(sink: FakeSink()) { status in statuses.withLockedValue { $0.append(status) } }
            try await TransferWorkerTests.waitUntil { inTransfer.load(ordering: .relaxed) }
            let took = await ContinuousClock().measure { await puller.stop() }
            #expect(took < atOnce)
            #expect(statuses.withLockedValue { $0 } == [.connecting, .stopped])
            await puller.stop()
        }
    }

    @Test func aRefusedUpstreamEndsThePullerWithoutStopped() async throws {
        let puller = Self.puller { _, _, _ in .notAStream("an HLS playlist") }
        let statuses = NIOLockedValueBox<[UpstreamPuller.Status]>([])
        puller.start(sink: FakeSink()) { status in statuses.withLockedValue { $0.append(status) } }
        try await TransferWorkerTests.waitUntil { statuses.withLockedValue { $0.count } == 2 }
        await puller.stop()
        #expect(statuses.withLockedValue { $0 } == [.connecting, .refused("an HLS playlist")])
    }

    @Test func stoppingAPullerThatNeverStartedReturns() async {
        let puller = Self.puller { _, _, _ in nil }
        await puller.stop()
        await puller.stop()
    }

    /// The link's rejoin backoff: after `failures` failed joins in a row, a delay between half of
    /// `min(50 << min(failures, 6), 2000)` ms and all of it, different from link to link.
    @Test func theLinksRejoinBackoffIsJitteredWithinItsSchedule() {
        var delays: Set<Duration> = []
        for _ in 0..<20 {
            var backoff = ParentLink.rejoinBackoff
            for failures in 1...9 {
                let delay = backoff.next()
                let full = Duration.milliseconds(min(50 << min(failures, 6), 2000))
                #expect(delay > full / 2 && delay <= full, "delay \(delay) after \(failures) failures")
                if failures == 1 { delays.insert(delay) }
            }
        }
        #expect(delays.count > 10, "links refused together come back at different times")
    }

    @Test func aLinkWhoseJoinsFailBacksOffAndStopsPromptly() async throws {
        try await onDedicatedThread {
            let joins = NIOLockedValueBox<[ContinuousClock.Instant]>([])
            let urls = NIOLockedValueBox<[String]>([])
            let link = ParentLink(
                name: "m1", rootURL: "http://root.invalid:8000", secret: "s", logger: Self.quiet,
                backoff: ReconnectBackoff(initial: .milliseconds(10), maximum: .milliseconds(40))
            ) { transfer, _, _ in
                urls.withLockedValue { $0.append(transfer.configuration.url) }
                joins.withLockedValue { $0.append(.now) }
                return .transport(code: 7, message: "Couldn't connect to server")
            }
            let downs = ManagedAtomic(0)
            link.start(
                position: { ParentLink.Position(nextSeq: nil, stream: nil) },
                sink: FakeSink(),
                onAccepted: { _ in },
                onControl: { _ in },
                onDown: { _ in downs.wrappingIncrement(ordering: .relaxed) }
            )
            try await TransferWorkerTests.waitUntil { joins.withLockedValue { $0.count } >= 4 }
            let took = await ContinuousClock().measure { await link.stop() }
            #expect(took < atOnce)
            let times = joins.withLockedValue { $0 }
            #expect(urls.withLockedValue { $0 }.allSatisfy { $0.hasPrefix("http://root.invalid:8000/casty/") })
            #expect(downs.value >= 3)
            #expect(times[1] - times[0] >= .milliseconds(9))
            #expect(times[2] - times[1] >= .milliseconds(19))
            #expect(times[3] - times[2] >= .milliseconds(39))
            await link.stop()
        }
    }

    @Test func aLinkThatIsStoppedWhileWaitingToRejoinStopsPromptly() async throws {
        try await onDedicatedThread {
            let joined = ManagedAtomic(0)
            let down = ManagedAtomic(false)
            let link = ParentLink(
                name: "m1", rootURL: "http://root.invalid:8000", secret: "s", logger: Self.quiet,
                backoff: ReconnectBackoff(initial: .seconds(30), maximum: .seconds(60))
            ) { _, _, _ in
                joined.wrappingIncrement(ordering: .relaxed)
                return .transport(code: 7, message: "Couldn't connect to server")
            }
            link.start(
                position: { ParentLink.Position(nextSeq: nil, stream: nil) }, sink: FakeSink(), onAccepted: { _ in }, onControl: { _ in },
                onDown: { _ in down.store(true, ordering: .relaxed) }
            )
            // The join failed and the link said so: it now backs off for 30 s.
            try await TransferWorkerTests.waitUntil { down.load(ordering: .relaxed) }
            let took = await ContinuousClock().measure { await link.stop() }
            #expect(took < atOnce)
            #expect(joined.value == 1)
        }
    }
}
