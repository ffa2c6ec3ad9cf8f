import CastyMedia
import Testing

@testable import CastyServer

/// The player's state machine as a pure value: events in, actions out, no channel.
@Suite struct PlayerConnectionStateMachineTests {
    /// A machine that got a `GET` with `Icy-MetaData: 1` and the hub's join at segment `next`.
    static func streaming(from next: UInt64?, format: StreamFormat = .mp3) -> PlayerConnectionStateMachine {
        var machine = PlayerConnectionStateMachine()
        _ = machine.headReceived(method: "GET", wantsMetadata: true, listeners: 0, maxListeners: 10)
        _ = machine.joined(format: format, nextSeq: next, playerMetaint: 16_000)
        return machine
    }

    @Test func aGetJoinsAndStreamsWithTheMetaintItAskedFor() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "GET", wantsMetadata: true, listeners: 3, maxListeners: 10) == .join)
        #expect(machine.joined(format: .mp3, nextSeq: 5, playerMetaint: 16_000) == .writeHeadAndStream(metaint: 16_000))
        #expect(machine.state == .streaming(nextSeq: 5, format: .mp3))
        #expect(machine.headReceived(method: "GET", wantsMetadata: true, listeners: 3, maxListeners: 10) == .ignore, "players send one request")
    }

    @Test func oggPlayersAndPlayersWhoDidNotAskGetNoMetaint() {
        var ogg = PlayerConnectionStateMachine()
        _ = ogg.headReceived(method: "GET", wantsMetadata: true, listeners: 0, maxListeners: 10)
        #expect(ogg.joined(format: .ogg, nextSeq: nil, playerMetaint: 16_000) == .writeHeadAndStream(metaint: nil))
        var plain = PlayerConnectionStateMachine()
        _ = plain.headReceived(method: "GET", wantsMetadata: false, listeners: 0, maxListeners: 10)
        #expect(plain.joined(format: .mp3, nextSeq: nil, playerMetaint: 16_000) == .writeHeadAndStream(metaint: nil))
    }

    @Test func aHeadRequestGetsTheHeadAndIsClosed() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "HEAD", wantsMetadata: true, listeners: 0, maxListeners: 10) == .join)
        #expect(machine.joined(format: .mp3, nextSeq: 1, playerMetaint: 16_000) == .writeHeadAndClose(metaint: 16_000))
        #expect(machine.segment(1) == .skip)
        #expect(machine.channelInactive() == .none, "it never joined the fan-out")
    }

    @Test func aFullNodeRefusesAndCountsNobody() {
        var machine = PlayerConnectionStateMachine()
        #expect(machine.headReceived(method: "GET", wantsMetadata: false, listeners: 10, maxListeners: 10) == .refuseFull(maxListeners: 10))
        #expect(machine.channelInactive() == .none)
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
        #expect(machine.channelInactive() == .leave, "it was in the fan-out until its channel closed")
        #expect(machine.channelInactive() == .none)
    }

    @Test func aChangedFormatClosesOnlyPlayersAnnouncedAnother() {
        var mp3 = Self.streaming(from: 0)
        #expect(mp3.formatChanged(to: .mp3) == .none)
        #expect(mp3.formatChanged(to: .ogg) == .close(reason: "the stream's format changed from \(StreamFormat.mp3.name) to \(StreamFormat.ogg.name); reconnect"))
        #expect(mp3.formatChanged(to: .aac) == .none, "closed once")
        #expect(mp3.segment(1) == .skip)
    }
}
