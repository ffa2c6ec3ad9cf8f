import CastyFuzzDrivers
import CastyICY
import CastyStream
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

    /// Whether `out` is `expected` but for its last bytes (fewer than `segment`), which the
    /// splicer holds until they make a whole segment of the radio's size.
    static func isStream(_ out: [UInt8], _ expected: [UInt8], segment: Int) -> Bool {
        out.count <= expected.count && expected.count - out.count < segment && out[...] == expected[0..<out.count]
    }

    @Test func aStandbyAheadOfTheRootGoesOnFromTheRootsLastByte() {
        var splicer = TakeoverSplicer()
        // The standby connected later (its first bytes are the radio's at 20,000) and is 30,000
        // bytes ahead when the root dies at 200,000.
        let out = Self.run(rootRange: 0..<200_000, ownBefore: 20_000..<230_000, ownAfter: 230_000..<300_000, splicer: &splicer)
        #expect(Self.isStream(out, Array(Self.radio[0..<300_000]), segment: 3_000))
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
        #expect(Self.isStream(ReconnectSplicerTests.audioOf(out), Array(Self.radio[0..<260_000]), segment: 3_000))
        guard case .spliced = splicer.lastOutcome else {
            Issue.record("expected a splice, got \(String(describing: splicer.lastOutcome))")
            return
        }
    }

    @Test func aRootFollowedOnlyBrieflyIsStillSplicedOnto() {
        // The standby followed the root for 4 segments only (its tail: 64,000 bytes), and keeps
        // up to 64 KiB and a segment of its own audio: that audio starts before the tail, whether
        // its connection is a little behind the root's, level, or ahead.
        for ownEnd in [150_000, 164_000, 170_000, 190_000] {
            var splicer = TakeoverSplicer()
            var out: [ICYSegment] = []
            for segment in Self.segments(100_000..<164_000, size: 16_000) {
                splicer.followed(segment)
                out.append(segment)
            }
            for segment in Self.segments(0..<ownEnd, size: 16_000) { _ = splicer.own(segment) }
            out += splicer.takeOver()
            for segment in Self.segments(ownEnd..<260_000, size: 16_000) { out += splicer.own(segment) }
            #expect(Self.isStream(ReconnectSplicerTests.audioOf(out), Array(Self.radio[100_000..<260_000]), segment: 16_000), "own audio up to \(ownEnd)")
            guard case .spliced = splicer.lastOutcome else {
                Issue.record("own audio up to \(ownEnd): expected a splice, got \(String(describing: splicer.lastOutcome))")
                continue
            }
        }
    }

    @Test func segmentsAfterTheTakeoverHaveTheOldRootsBorders() {
        // The root cut the radio at multiples of 16,000; the standby's connection at 5,000 past
        // them. The root's last segment ends at 160,000; its next would have been 160,000..<176,000.
        var splicer = TakeoverSplicer()
        for segment in Self.segments(96_000..<160_000, size: 16_000) { splicer.followed(segment) }
        for segment in Self.segments(5_000..<181_000, size: 16_000) { _ = splicer.own(segment) }
        var out = splicer.takeOver()
        for segment in Self.segments(181_000..<293_000, size: 16_000) { out += splicer.own(segment) }
        #expect(out.count == 8)
        for (index, segment) in out.enumerated() {
            let start = 160_000 + index * 16_000
            #expect(Array(segment.audio.readableBytesView) == Array(Self.radio[start..<start + 16_000]), "segment \(index) after the takeover")
        }
        // So a mirror that got the root's 160,000..<176,000 and asks for the next segment goes on
        // with the standby's second one, exactly where the root's ended.
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
        #expect(Self.isStream(out, Array(Self.radio[0..<100_000]) + Array(Self.radio[240_000..<320_000]), segment: 3_000))
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
        #expect(Self.isStream(out, Array(Self.radio[100_000..<110_000]), segment: 3_000))
    }

    @Test func withoutAnyRootAudioOwnAudioPassesAsItIs() {
        var splicer = TakeoverSplicer()
        for segment in Self.segments(0..<5_000, size: 1_000) { _ = splicer.own(segment) }
        #expect(ReconnectSplicerTests.audioOf(splicer.takeOver()) == Array(Self.radio[0..<5_000]))
        #expect(splicer.tookOver)
        #expect(ReconnectSplicerTests.audioOf(splicer.own(Self.segments(5_000..<6_000, size: 1_000)[0])) == Array(Self.radio[5_000..<6_000]))
    }
}
