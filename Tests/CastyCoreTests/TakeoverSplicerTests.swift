import CastyCore
import CastyFuzzDrivers
import CastyICY
import NIOCore
import Testing

@Suite struct TakeoverSplicerTests {
    /// The radio's bytes: no 2 KiB of them repeat.
    static let radio = ReconnectSplicerTests.audio(400_000, seed: 14)

    static func segments(_ range: Range<Int>, size: Int) -> [ICYSegment] {
        ReconnectSplicerTests.segments(Self.radio[range], size: size)
    }

    /// The root sent `rootRange` (in its own segmentation); the standby's connection delivered
    /// `ownBefore` before the takeover and `ownAfter` after. Returns the audio listeners get.
    static func run(rootRange: Range<Int>, ownBefore: Range<Int>, ownAfter: Range<Int>, splicer: inout TakeoverSplicer) -> [UInt8] {
        var out: [ICYSegment] = []
        for segment in Self.segments(rootRange, size: 16_000) {
            splicer.followed(segment)
            out.append(segment)
        }
        for segment in Self.segments(ownBefore, size: 3_000) { #expect(splicer.own(segment).isEmpty) }
        out += splicer.takeOver()
        for segment in Self.segments(ownAfter, size: 3_000) { out += splicer.own(segment) }
        return ReconnectSplicerTests.audioOf(out)
    }

    @Test func aStandbyAheadOfTheRootGoesOnFromTheRootsLastByte() {
        var splicer = TakeoverSplicer()
        // The standby connected later (its first bytes are the radio's at 20,000) and is 30,000
        // bytes ahead when the root dies at 200,000.
        let out = Self.run(rootRange: 0..<200_000, ownBefore: 20_000..<230_000, ownAfter: 230_000..<300_000, splicer: &splicer)
        #expect(out == Array(Self.radio[0..<300_000]))
        guard case .spliced(let repeated) = splicer.lastOutcome else {
            Issue.record("expected a splice, got \(String(describing: splicer.lastOutcome))")
            return
        }
        #expect(repeated > 0 && repeated <= 65_536)
    }

    @Test func aStandbyBehindTheRootWaitsForItsOwnAudioToCatchUp() {
        var splicer = TakeoverSplicer()
        // The standby's connection is 40,000 bytes behind: the splice waits for more of it.
        var out: [ICYSegment] = []
        for segment in Self.segments(0..<200_000, size: 16_000) {
            splicer.followed(segment)
            out.append(segment)
        }
        for segment in Self.segments(0..<160_000, size: 3_000) { _ = splicer.own(segment) }
        let atTakeover = splicer.takeOver()
        #expect(atTakeover.isEmpty)
        for segment in Self.segments(160_000..<260_000, size: 3_000) { out += splicer.own(segment) }
        #expect(ReconnectSplicerTests.audioOf(out) == Array(Self.radio[0..<260_000]))
        guard case .spliced = splicer.lastOutcome else {
            Issue.record("expected a splice, got \(String(describing: splicer.lastOutcome))")
            return
        }
    }

    @Test func ownAudioIsKeptOnlyUpToItsLimit() {
        // 8,000 bytes ahead with 10,000 kept: the kept audio starts in the root's tail.
        var near = TakeoverSplicer(tailBytes: 32_768, matchBytes: 2048, ownBytesKept: 10_000)
        for segment in Self.segments(0..<100_000, size: 16_000) { near.followed(segment) }
        for segment in Self.segments(0..<108_000, size: 1_000) { _ = near.own(segment) }
        #expect(ReconnectSplicerTests.audioOf(near.takeOver()) == Array(Self.radio[100_000..<108_000]))
        #expect(near.lastOutcome == .spliced(repeatedBytes: 2_000))
        // 12,000 ahead: the 2,000 bytes after the root's last one were not kept; the rest passes.
        var far = TakeoverSplicer(tailBytes: 32_768, matchBytes: 2048, ownBytesKept: 10_000)
        for segment in Self.segments(0..<100_000, size: 16_000) { far.followed(segment) }
        for segment in Self.segments(0..<112_000, size: 1_000) { _ = far.own(segment) }
        #expect(ReconnectSplicerTests.audioOf(far.takeOver()) == Array(Self.radio[102_000..<112_000]))
        #expect(far.lastOutcome == .noOverlap)
    }

    @Test func ownAudioTooFarAheadPassesUnchanged() {
        var splicer = TakeoverSplicer()
        // The standby is 200 KB ahead: nothing it kept was sent by the root.
        let out = Self.run(rootRange: 0..<100_000, ownBefore: 240_000..<300_000, ownAfter: 300_000..<320_000, splicer: &splicer)
        #expect(out == Array(Self.radio[0..<100_000]) + Array(Self.radio[240_000..<320_000]))
        #expect(splicer.lastOutcome == .noOverlap)
    }

    @Test func anOwnReconnectBeforeTheTakeoverForgetsWhatWasKept() {
        var splicer = TakeoverSplicer()
        for segment in Self.segments(0..<100_000, size: 16_000) { splicer.followed(segment) }
        for segment in Self.segments(50_000..<90_000, size: 3_000) { _ = splicer.own(segment) }
        #expect(splicer.ownReconnected().isEmpty)
        // The new connection's burst starts again at 60,000.
        for segment in Self.segments(60_000..<110_000, size: 3_000) { _ = splicer.own(segment) }
        let out = ReconnectSplicerTests.audioOf(splicer.takeOver())
        #expect(out == Array(Self.radio[100_000..<110_000]))
    }

    @Test func withoutAnyRootAudioOwnAudioPassesAsItIs() {
        var splicer = TakeoverSplicer()
        for segment in Self.segments(0..<5_000, size: 1_000) { _ = splicer.own(segment) }
        #expect(ReconnectSplicerTests.audioOf(splicer.takeOver()) == Array(Self.radio[0..<5_000]))
        #expect(splicer.tookOver)
        #expect(ReconnectSplicerTests.audioOf(splicer.own(Self.segments(5_000..<6_000, size: 1_000)[0])) == Array(Self.radio[5_000..<6_000]))
    }
}
