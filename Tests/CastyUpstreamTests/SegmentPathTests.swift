import Atomics
import CastyICY
import CastyStream
import CastyTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import CastyUpstream

/// A segment's first two hops at the ingest: the transfer (here fed by hand) and its handler,
/// which hands every segment straight to its sink (in a node, the hub) with no puller or service
/// in between.
@Suite struct SegmentPathTests {
    /// Audio in which no 2 KiB repeat.
    static let radio: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()

    static let radioHead = ICYResponseHead(status: .http10OK, headers: ["Content-Type": "audio/mpeg", "icy-name": "Test FM"])

    // MARK: The ingest: CurlTransfer → ICYStreamHandler → sink

    @Test func aRadiosSegmentsGoStraightFromTheHandlerToTheSink() throws {
        let sink = FakeSink()
        let events = NIOLockedValueBox<[UpstreamEvent]>([])
        let handler = ICYStreamHandler(audioOnlySegmentSize: 1000, sink: sink) { event in events.withLockedValue { $0.append(event) } }
        try handler.received(head: Self.radioHead)
        // Chunks that do not fall on segment boundaries.
        for start in stride(from: 0, to: 3500, by: 700) { try handler.received(body: ByteBuffer(bytes: Self.radio[start..<(start + 700)])) }
        try handler.finished()
        #expect(sink.calls.first == .connected(name: "Test FM"))
        #expect(sink.calls.dropFirst().count == 3, "three whole segments; the radio closed mid-segment")
        #expect(sink.audio == Array(Self.radio[0..<3000]))
        #expect(handler.segmentsReceived == 3)
        #expect(events.withLockedValue { $0 } == [.connected(Self.radioHead, framing: .audioOnly(segmentSize: 1000))], "the puller hears of no segment")
    }

    @Test func theSplicerLentToEachTransferDropsWhatAReconnectRepeats() throws {
        let sink = FakeSink()
        let first = ICYStreamHandler(audioOnlySegmentSize: 4000, sink: sink)
        try first.received(head: Self.radioHead)
        try first.received(body: ByteBuffer(bytes: Self.radio[0..<40_000]))
        // The radio is reached again; its burst to a new client starts 12,000 bytes back.
        let events = NIOLockedValueBox<[UpstreamEvent]>([])
        let second = ICYStreamHandler(audioOnlySegmentSize: 4000, splicer: first.splicer, sink: sink) { event in events.withLockedValue { $0.append(event) } }
        try second.received(head: Self.radioHead)
        try second.received(body: ByteBuffer(bytes: Self.radio[28_000..<60_000]))
        #expect(sink.audio == Array(Self.radio[0..<60_000]), "no gap, no repeat")
        #expect(sink.calls.filter { $0 == .connected(name: "Test FM") }.count == 2)
        #expect(events.withLockedValue { $0 }.last == .spliced(.spliced(repeatedBytes: 12_000)))
    }

    /// The puller lends its splicer to each transfer's handler and takes it back: across a
    /// reconnect the sink gets the radio's audio once, with the puller on no segment's path.
    @Test func aPullersSegmentsReachTheSinkSplicedAcrossReconnects() async throws {
        try await onDedicatedThread {
            let sink = FakeSink()
            let transfers = ManagedAtomic(0)
            let puller = UpstreamPuller(
                configuration: CurlTransfer.Configuration(url: "http://radio.invalid/stream", userAgent: "test"),
                audioOnlySegmentSize: 4000,
                logger: PullerAndLinkTests.quiet,
                backoff: ReconnectBackoff(initial: .milliseconds(10), maximum: .milliseconds(10))
            ) { _, stop, handler in
                let transfer = transfers.loadThenWrappingIncrement(ordering: .relaxed)
                do throws(UpstreamFailure) {
                    try handler.received(head: Self.radioHead)
                    // The first connection drops after 40,000 bytes; the second repeats the last 12,000.
                    try handler.received(body: ByteBuffer(bytes: transfer == 0 ? Self.radio[0..<40_000] : Self.radio[28_000..<60_000]))
                } catch {
                    return error
                }
                guard transfer > 0 else { return .transport(code: 56, message: "Connection reset by peer") }
                while !stop.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.005) }
                return nil
            }
            let statuses = NIOLockedValueBox<[UpstreamPuller.Status]>([])
            puller.start(sink: sink) { status in statuses.withLockedValue { $0.append(status) } }
            try await TransferWorkerTests.waitUntil { sink.audio.count >= 60_000 }
            await puller.stop()
            #expect(sink.audio == Array(Self.radio[0..<60_000]))
            #expect(statuses.withLockedValue { $0 }.filter { $0 == .connected }.count == 2)
        }
    }
}
