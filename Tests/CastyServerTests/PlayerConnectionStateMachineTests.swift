import CastyHandover
import Foundation
import CastyMedia
import CastyStream
import CastyICY
import NIOCore
import Testing

@testable import CastyServer

/// The player's state machine as a pure value: events in, actions out, no channel.
@Suite struct PlayerConnectionStateMachineTests {
    /// A point on the loop's clock.
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A machine that got a `GET` with `Icy-MetaData: 1` and the hub's join at segment `next`.
    static func streaming(from next: UInt64?, format: StreamFormat = .mp3) -> PlayerConnectionStateMachine {
        var machine = PlayerConnectionStateMachine()
        _ = machine.headReceived(method: "GET", wantsMetadata: true, listeners: 0, maxListeners: 10)
        _ = machine.joined(format: format, nextSeq: next, playerMetaint: 16_000, now: Self.start)
        return machine
    }

    @Test func aGetJoinsAndStreamsWithTheMetaintItAskedFor() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "GET", wantsMetadata: true, listeners: 3, maxListeners: 10) == .join)
        #expect(machine.joined(format: .mp3, nextSeq: 5, playerMetaint: 16_000, now: Self.start) == .writeHeadAndStream(metaint: 16_000))
        #expect(machine.state == .streaming(nextSeq: 5, format: .mp3) && machine.framer.metaint == 16_000 && machine.joinedAt == Self.start)
        #expect(machine.headReceived(method: "GET", wantsMetadata: true, listeners: 3, maxListeners: 10) == .ignore, "players send one request")
    }

    @Test func oggPlayersAndPlayersWhoDidNotAskGetNoMetaint() {
        var ogg = PlayerConnectionStateMachine()
        _ = ogg.headReceived(method: "GET", wantsMetadata: true, listeners: 0, maxListeners: 10)
        #expect(ogg.joined(format: .ogg, nextSeq: nil, playerMetaint: 16_000, now: Self.start) == .writeHeadAndStream(metaint: nil))
        var plain = PlayerConnectionStateMachine()
        _ = plain.headReceived(method: "GET", wantsMetadata: false, listeners: 0, maxListeners: 10)
        #expect(plain.joined(format: .mp3, nextSeq: nil, playerMetaint: 16_000, now: Self.start) == .writeHeadAndStream(metaint: nil))
    }

    @Test func aHeadRequestGetsTheHeadAndIsClosed() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "HEAD", wantsMetadata: true, listeners: 0, maxListeners: 10) == .join)
        #expect(machine.joined(format: .mp3, nextSeq: 1, playerMetaint: 16_000, now: Self.start) == .writeHeadAndClose(metaint: 16_000))
        #expect(machine.segment(1) == .skip)
        #expect(machine.channelInactive(now: Self.start) == .none, "it never joined the fan-out")
    }

    @Test func aFullNodeRefusesAndCountsNobody() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "GET", wantsMetadata: false, listeners: 10, maxListeners: 10) == .refuseFull(maxListeners: 10))
        #expect(machine.channelInactive(now: Self.start) == .none)
    }

    @Test func segmentsAreSentOnceInOrderAndAMissedOneIsCaughtUp() {
        var machine = Self.streaming(from: 5)
        #expect(machine.segment(4) == .skip, "already in the burst")
        #expect(machine.segment(5) == .write(catchUpFrom: nil))
        #expect(machine.segment(5) == .skip, "no repeat")
        #expect(machine.segment(8) == .write(catchUpFrom: 6), "6 and 7 were missed")
        #expect(machine.state == .streaming(nextSeq: 9, format: .mp3))
    }

    @Test func aPlayerWithNoNumberTakesWhateverComesAndTheBurstSetsItsPlace() {
        var machine = Self.streaming(from: nil)
        machine.burstWritten(lastSeq: nil)
        #expect(machine.segment(42) == .write(catchUpFrom: nil))
        var burst = Self.streaming(from: 3)
        burst.burstWritten(lastSeq: 9)
        #expect(burst.segment(9) == .skip)
        #expect(burst.segment(10) == .write(catchUpFrom: nil))
    }

    @Test func aNewStreamIdentityTakesTheNextSegmentWhateverItsNumber() {
        var machine = Self.streaming(from: 100)
        machine.streamChanged()
        #expect(machine.segment(0) == .write(catchUpFrom: nil))
    }

    @Test func aPlayerTooFarBehindIsDroppedOnceAndGetsNothingMore() {
        var machine = Self.streaming(from: 0)
        #expect(machine.segment(0) == .write(catchUpFrom: nil))
        #expect(machine.written(isWritable: true, maxLagBytes: 1000) == .none)
        #expect(machine.segment(1) == .write(catchUpFrom: nil))
        #expect(machine.written(isWritable: false, maxLagBytes: 1000) == .dropTooSlow(reason: "too slow: more than 1000 bytes behind"))
        #expect(machine.written(isWritable: false, maxLagBytes: 1000) == .none)
        #expect(machine.segment(2) == .skip)
        #expect(machine.channelInactive(now: Self.start + .seconds(7)) == .leave(seconds: 7), "it was in the fan-out until its channel closed, 7 s after it joined")
        #expect(machine.channelInactive(now: Self.start) == .none)
    }

    @Test func aChangedFormatClosesOnlyPlayersAnnouncedAnother() {
        var mp3 = Self.streaming(from: 0)
        #expect(mp3.formatChanged(to: .mp3) == .none)
        #expect(mp3.formatChanged(to: .ogg) == .close(reason: "the stream's format changed from \(StreamFormat.mp3.name) to \(StreamFormat.ogg.name); reconnect"))
        #expect(mp3.formatChanged(to: .aac) == .none, "closed once")
        #expect(mp3.segment(1) == .skip)
    }

    /// The machine frames the audio and keeps every buffer it emits in the written tail, so that
    /// a hand-over names the channel's unwritten bytes.
    @Test func framingStartsAtAListenerStartAndKeepsTheTail() throws {
        var machine = Self.streaming(from: 0)
        let audio = ByteBuffer(bytes: Array(repeating: 0x55, count: 20_000))
        let noStart = StreamLedger.Entry(numbered: NumberedSegment(seq: 0, segment: ICYSegment(audio: audio)), title: TitleBlock())
        var emitted: [ByteBuffer] = []
        let skipped = machine.frame(noStart, emit: { emitted.append($0) })
        #expect(skipped == nil, "no place to start: skipped")
        #expect(emitted.isEmpty && machine.awaitingStart)
        let withStart = StreamLedger.Entry(
            numbered: NumberedSegment(seq: 1, segment: ICYSegment(audio: audio)), title: TitleBlock(), start: ListenerStart(offset: 1_000)
        )
        let framed = machine.frame(withStart, emit: { emitted.append($0) })
        let bytes = try #require(framed)
        #expect(!machine.awaitingStart)
        #expect(bytes == emitted.reduce(0) { $0 + $1.readableBytes })
        #expect(bytes == 19_000 + 1, "the audio from the start, and one empty metadata block after 16,000 bytes")
        #expect(machine.framer.untilMetadata == 16_000 - 3_000)
        // Everything emitted is unwritten: all of it is handed over.
        let unwritten = machine.life.handOver(queued: bytes)
        #expect(unwritten == Data(emitted.flatMap { Array($0.readableBytesView) }))
        #expect(machine.life.phase == .handedOver)
        #expect(machine.channelInactive(now: Self.start) == .none, "the close is the other process's")
    }

    /// A player taken over from another process waits to be activated; it counts from then on.
    @Test func aResumedPlayerStreamsOnceActivated() {
        let state = HandoverState.Player(nextSeq: 12, format: StreamFormat.mp3.rawValue, metaint: 16_000, untilMetadata: 5, sentTitle: nil, awaitingStart: false)
        var machine = PlayerConnectionStateMachine(resuming: state, unwritten: ByteBuffer(bytes: [1, 2, 3]), tailCapacity: 100)
        #expect(machine.channelInactive(now: Self.start) == .none, "a close while resuming is the activation's")
        #expect(machine.activate(isActive: true, now: Self.start) == .resume(unwritten: ByteBuffer(bytes: [1, 2, 3])))
        #expect(machine.activate(isActive: true, now: Self.start) == .none, "once")
        #expect(machine.segment(12) == .write(catchUpFrom: nil))
        #expect(machine.handOverState?.nextSeq == 13 && machine.handOverState?.untilMetadata == 5)
        #expect(machine.channelInactive(now: Self.start + .seconds(2)) == .leave(seconds: 2))

        var closed = PlayerConnectionStateMachine(resuming: state, unwritten: ByteBuffer(), tailCapacity: 100)
        #expect(closed.activate(isActive: false, now: Self.start) == .none, "closed during the hand-over: never counted here")
        #expect(closed.state == .closed && closed.handOverState == nil)
    }
}
