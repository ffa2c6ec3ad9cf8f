import Atomics
import CastyICY
import CastyPeerProtocol
import CastyStream
import CastyTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import CastyUpstream

/// A segment's first two hops at a node: the transfer (libcurl's callbacks, here fed by hand) and
/// its handler, which hands every segment straight to its sink (in a node, the hub) with no
/// puller, link or service in between. A link that must leave its parent ends its transfer
/// through the transfer's stop condition, and nothing more of that parent reaches the sink.
@Suite struct SegmentPathTests {
    /// Audio in which no 2 KiB repeat.
    static let radio: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()

    static let radioHead = ICYResponseHead(status: .http10OK, headers: ["Content-Type": "audio/mpeg", "icy-name": "Test FM"])

    static func segment(_ marker: UInt8) -> ICYSegment {
        ICYSegment(audio: ByteBuffer(bytes: [UInt8](repeating: marker, count: 100)))
    }

    static func bytes(_ frames: [PeerFrame]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { _ = buffer.writePeerFrame(frame) }
        return buffer
    }

    /// A parent's reply head, line by line, as libcurl's header callback gets it.
    static func parentHeadLines(parent: String = "root", nextSeq: UInt64) -> [String] {
        [
            "HTTP/1.0 200 OK\r\n", "Content-Type: \(PeerProtocol.contentType)\r\n", "\(PeerProtocol.versionHeader): \(PeerProtocol.version)\r\n",
            "\(PeerProtocol.streamHeader): s1\r\n", "\(PeerProtocol.parentHeader): \(parent)\r\n", "\(PeerProtocol.nextSeqHeader): \(nextSeq)\r\n",
            "\(PeerProtocol.depthHeader): 1\r\n", "\r\n",
        ]
    }

    static func parentHead(nextSeq: UInt64) -> ICYResponseHead {
        var head = ICYResponseHead(status: .http10OK)
        for line in Self.parentHeadLines(nextSeq: nextSeq).dropFirst().dropLast() {
            let parts = line.trimmingCharacters(in: .newlines).split(separator: ":", maxSplits: 1)
            head.headers.add(name: String(parts[0]), value: parts[1].trimmingCharacters(in: .whitespaces))
        }
        return head
    }

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

    // MARK: A mirror: CurlTransfer → PeerStreamHandler → sink

    @Test func aParentsSegmentsGoStraightToTheSinkAndControlFramesToTheLink() throws {
        let sink = FakeSink()
        let controls = NIOLockedValueBox<[PeerFrame]>([])
        let handler = PeerStreamHandler(name: "m1", stop: ManagedAtomic(false), sink: sink, onAccepted: { _ in }) { frame in
            controls.withLockedValue { $0.append(frame) }
        }
        try handler.received(head: Self.parentHead(nextSeq: 5))
        #expect(handler.acceptance?.parent == "root")
        #expect(handler.acceptance?.nextSeq == 5)
        let place = PeerFrame.place(depth: 2, path: ["root", "m9"])
        var body = Self.bytes([.data(seq: 5, segment: Self.segment(5)), .heartbeat(newestSeq: 9), .data(seq: 6, segment: Self.segment(6)), place, .data(seq: 7, segment: Self.segment(7))])
        // Byte by byte: frames cut across chunks.
        while let byte = body.readSlice(length: 1) { try handler.received(body: byte) }
        #expect(sink.calls == [.receive(seq: 5, Self.segment(5)), .receive(seq: 6, Self.segment(6)), .receive(seq: 7, Self.segment(7))])
        #expect(controls.withLockedValue { $0 } == [.heartbeat(newestSeq: 9), place])
    }

    /// A control frame whose handling ends the link (a stale place: the link relocates, which sets
    /// the transfer's stop condition) is the last frame handed on, even within one chunk.
    @Test func nothingAfterAControlFrameThatEndsTheLinkIsHandedOn() throws {
        let sink = FakeSink()
        let stop = ManagedAtomic(false)
        let controls = NIOLockedValueBox<[PeerFrame]>([])
        let handler = PeerStreamHandler(name: "m1", stop: stop, sink: sink, onAccepted: { _ in }) { frame in
            controls.withLockedValue { $0.append(frame) }
            if case .place = frame { stop.store(true, ordering: .relaxed) }
        }
        try handler.received(head: Self.parentHead(nextSeq: 5))
        let place = PeerFrame.place(depth: 3, path: ["root", "m1", "m9"])
        let body = Self.bytes([.data(seq: 5, segment: Self.segment(5)), place, .data(seq: 6, segment: Self.segment(6)), .heartbeat(newestSeq: 6)])
        #expect(throws: UpstreamFailure.self) { try handler.received(body: body) }
        #expect(sink.calls == [.receive(seq: 5, Self.segment(5))])
        #expect(controls.withLockedValue { $0 } == [place])
        #expect(handler.endedOnPurpose)
    }

    /// libcurl's callbacks (``TransferState``) hand the handler nothing once the transfer's stop
    /// condition is set, and the transfer ends as stopped, not failed.
    @Test func aStoppedTransferHandsNoMoreBytesOn() {
        let sink = FakeSink()
        let stop = ManagedAtomic(false)
        let handler = PeerStreamHandler(name: "m1", stop: stop, sink: sink, onAccepted: { _ in }, onControl: { _ in })
        let state = TransferState(limits: ICYDecoderLimits(), handler: handler, stop: stop)
        for line in Self.parentHeadLines(nextSeq: 5) {
            #expect(Array(line.utf8).withUnsafeBytes { state.header($0) })
        }
        #expect(Self.bytes([.data(seq: 5, segment: Self.segment(5))]).withUnsafeReadableBytes { state.body($0) })
        stop.store(true, ordering: .relaxed)  // as `ParentLink.relocate()` does
        #expect(!Self.bytes([.data(seq: 6, segment: Self.segment(6))]).withUnsafeReadableBytes { state.body($0) })
        #expect(sink.calls == [.receive(seq: 5, Self.segment(5))])
        #expect(state.failure == nil)
        // Nor a head: a link told to leave before its parent answered takes no acceptance.
        let late = PeerStreamHandler(name: "m1", stop: stop, sink: sink, onAccepted: { _ in }, onControl: { _ in })
        let lateState = TransferState(limits: ICYDecoderLimits(), handler: late, stop: stop)
        #expect(!Array(Self.parentHeadLines(nextSeq: 5)[0].utf8).withUnsafeBytes { lateState.header($0) })
        #expect(late.acceptance == nil)
    }

    // MARK: Relocation: a stop condition of the transfer

    /// A transfer as `CurlTransfer.run` runs it, libcurl aside: the head through the header
    /// callback, then (with the head's bytes, as libcurl may) a data frame through the write
    /// callback, and another every 5 ms until the stop condition is seen in the 50 ms poll (here:
    /// after each frame) or `frames` were sent (then the parent goes silent, a failure).
    static func parentTransfer(nextSeq: UInt64, stop: ManagedAtomic<Bool>, handler: CurlStreamHandler, frames: Int = .max) -> UpstreamFailure? {
        let state = TransferState(limits: ICYDecoderLimits(), handler: handler, stop: stop)
        for line in Self.parentHeadLines(nextSeq: nextSeq) {
            guard Array(line.utf8).withUnsafeBytes({ state.header($0) }) else { return state.failure }
        }
        var seq = nextSeq
        while true {
            guard seq < nextSeq + UInt64(min(frames, 1_000_000)) else { return .silent(seconds: 0.8) }
            guard Self.bytes([.data(seq: seq, segment: Self.segment(UInt8(truncatingIfNeeded: seq)))]).withUnsafeReadableBytes({ state.body($0) }) else { break }
            seq += 1
            if stop.load(ordering: .relaxed) { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return stop.load(ordering: .relaxed) ? nil : state.failure
    }

    static func link(perform: @escaping ParentLink.PerformTransfer) -> ParentLink {
        ParentLink(
            name: "m1", rootURL: "http://root.invalid:8000", secret: "s", logger: PullerAndLinkTests.quiet,
            backoff: ReconnectBackoff(initial: .seconds(30), maximum: .seconds(60)), perform: perform
        )
    }

    static func joinRequest(_ url: String) throws -> JoinRequest {
        try JoinRequest(target: String(url.dropFirst("http://root.invalid:8000".count)))
    }

    /// `relocate()` ends the running transfer through its stop condition: the link rejoins at
    /// once, and names no lost parent (it left on purpose); a parent that fails is named.
    @Test func aRelocationEndsTheTransferThroughItsStopCondition() async throws {
        try await onDedicatedThread {
            let sink = FakeSink()
            let joins = NIOLockedValueBox<[String]>([])
            let link = Self.link { transfer, stop, handler in
                let join = joins.withLockedValue {
                    $0.append(transfer.configuration.url)
                    return $0.count
                }
                // The second parent goes silent after 3 frames; the others send until stopped.
                return Self.parentTransfer(nextSeq: UInt64(join * 1000), stop: stop, handler: handler, frames: join == 2 ? 3 : .max)
            }
            let downs = NIOLockedValueBox<[String]>([])
            link.start(
                position: { ParentLink.Position(nextSeq: nil, stream: nil) }, sink: sink, onAccepted: { _ in }, onControl: { _ in },
                onDown: { cause in downs.withLockedValue { $0.append(cause) } }
            )
            try await TransferWorkerTests.waitUntil { sink.calls.count >= 3 }
            #expect(joins.withLockedValue { $0.count } == 1)
            let relocated = ContinuousClock.now
            link.relocate()
            try await TransferWorkerTests.waitUntil { joins.withLockedValue { $0.count } == 3 }
            #expect(ContinuousClock.now - relocated < atOnce, "rejoined at once, not after a backoff of 30 s")
            #expect(downs.withLockedValue { $0 }.first == "parent ended the link: this node's place in the tree is stale")
            let requests = try joins.withLockedValue { $0 }.map(Self.joinRequest)
            #expect(requests[1].lost == nil, "a parent left on purpose is not reported lost")
            #expect(requests[2].lost == "root", "a parent that went silent is")
            await link.stop()
            let seqs = sink.calls.compactMap { call -> UInt64? in
                if case .receive(let seq, _) = call { return seq }
                return nil
            }
            #expect(seqs.count == sink.calls.count, "every call was a segment from the handler")
            #expect(seqs.filter { (2000..<3000).contains($0) } == [2000, 2001, 2002])
        }
    }

    /// A parent left from its acceptance (it is under a stale root) hands the sink nothing: the
    /// link's stop condition is set before the first body byte.
    @Test func aParentLeftAtItsAcceptanceHandsTheSinkNothing() async throws {
        try await onDedicatedThread {
            let sink = FakeSink()
            let joins = ManagedAtomic(0)
            let link = Self.link { _, stop, handler in
                Self.parentTransfer(nextSeq: UInt64(joins.wrappingIncrementThenLoad(ordering: .relaxed) * 1000), stop: stop, handler: handler)
            }
            let accepted = ManagedAtomic(0)
            link.start(
                position: { ParentLink.Position(nextSeq: nil, stream: nil) }, sink: sink,
                onAccepted: { _ in
                    // The first parent is under a stale root: the service relocates at once.
                    if accepted.loadThenWrappingIncrement(ordering: .relaxed) == 0 { link.relocate() }
                },
                onControl: { _ in }, onDown: { _ in }
            )
            try await TransferWorkerTests.waitUntil { sink.calls.count >= 2 }
            await link.stop()
            #expect(joins.value >= 2)
            #expect(sink.calls.allSatisfy { if case .receive(let seq, _) = $0 { seq >= 2000 } else { false } }, "nothing of the first parent")
        }
    }
}
