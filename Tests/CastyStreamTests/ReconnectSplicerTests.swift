import CastyFuzzDrivers
import CastyStream
import CastyICY
import NIOCore
import Testing

@Suite struct ReconnectSplicerTests {
    /// Unique-looking audio: no 2 KiB of it repeats, like real music (or the test radio's noise).
    static func audio(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// `bytes` cut into segments of `size` (the last one may be shorter), as a connection delivers them.
    static func segments(_ bytes: ArraySlice<UInt8>, size: Int, title: String? = nil) -> [ICYSegment] {
        stride(from: bytes.startIndex, to: bytes.endIndex, by: size).map { start in
            let chunk = bytes[start..<min(start + size, bytes.endIndex)]
            return ICYSegment(audio: ByteBuffer(bytes: chunk), metadata: start == bytes.startIndex ? (title ?? "") : "")
        }
    }

    static func run(_ splicer: inout ReconnectSplicer, first: [ICYSegment], second: [ICYSegment]) -> [ICYSegment] {
        var out = first.flatMap { splicer.process($0) }
        out += splicer.reconnected()
        out += second.flatMap { splicer.process($0) }
        return out
    }

    static func audioOf(_ segments: [ICYSegment]) -> [UInt8] {
        segments.flatMap { Array($0.audio.readableBytesView) }
    }

    @Test func segmentsPassUnchangedUntilAReconnect() {
        var splicer = ReconnectSplicer()
        let input = Self.segments(Self.audio(50_000, seed: 1)[...], size: 16_000, title: "StreamTitle='A';")
        let out = input.flatMap { splicer.process($0) }
        #expect(out == input)
        #expect(splicer.lastOutcome == nil)
    }

    @Test func aBurstOfAudioAlreadySentIsDroppedSoTheStreamGoesOnWhereItStopped() {
        // Icecast's way: the first connection got 96,000 bytes; the new one starts with a burst
        // that begins 60,000 bytes back, then goes on live.
        let stream = Self.audio(200_000, seed: 2)
        var splicer = ReconnectSplicer()
        let out = Self.run(&splicer, first: Self.segments(stream[0..<96_000], size: 16_000), second: Self.segments(stream[36_000...], size: 16_000))
        #expect(Self.audioOf(out) == stream)
        #expect(splicer.lastOutcome == .spliced(repeatedBytes: 60_000))
    }

    @Test func audioTheRadioNeverResentStaysAGapNotARepeat() {
        // The outage outlasted the burst: the new connection starts after what was sent.
        let stream = Self.audio(200_000, seed: 3)
        var splicer = ReconnectSplicer()
        let out = Self.run(&splicer, first: Self.segments(stream[0..<96_000], size: 16_000), second: Self.segments(stream[120_000...], size: 16_000))
        #expect(Self.audioOf(out) == Array(stream[0..<96_000]) + Array(stream[120_000...]))
        #expect(splicer.lastOutcome == .noOverlap)
    }

    @Test func aRestartedRadioPassesUnchanged() {
        let before = Self.audio(64_000, seed: 4)
        let after = Self.audio(64_000, seed: 5)
        var splicer = ReconnectSplicer()
        let second = Self.segments(after[...], size: 16_000, title: "StreamTitle='New';")
        let out = Self.run(&splicer, first: Self.segments(before[...], size: 16_000), second: second)
        #expect(Array(out.suffix(second.count)) == second)
        #expect(splicer.lastOutcome == .noOverlap)
    }

    @Test func aTitleInDroppedAudioRidesOnTheNextSegmentSent() {
        let stream = Self.audio(120_000, seed: 6)
        var splicer = ReconnectSplicer()
        // The burst's first segment (entirely audio already sent) carries the title.
        var second = Self.segments(stream[48_000...], size: 16_000)
        second[0].metadata = ByteBuffer(string: "StreamTitle='Next';")
        let out = Self.run(&splicer, first: Self.segments(stream[0..<80_000], size: 16_000), second: second)
        #expect(Self.audioOf(out) == stream)
        let titles = out.map(\.metadataText).filter { !$0.isEmpty }
        #expect(titles == ["StreamTitle='Next';"])
    }

    @Test func aConnectionThatEndsWhileHeldLosesNothing() {
        // The second connection sends less than a match before it dies too.
        let stream = Self.audio(150_000, seed: 7)
        var splicer = ReconnectSplicer()
        var out = Self.segments(stream[0..<64_000], size: 16_000).flatMap { splicer.process($0) }
        out += splicer.reconnected()
        out += Self.segments(stream[64_000..<65_000], size: 16_000).flatMap { splicer.process($0) }
        out += splicer.reconnected()
        out += Self.segments(stream[65_000...], size: 16_000).flatMap { splicer.process($0) }
        #expect(Self.audioOf(out) == stream)
    }

    @Test func aBurstLongerThanTheTailIsDroppedUpToTheTailsEnd() {
        // 100,000 bytes sent, 32 KiB of them remembered; the new connection starts 50,000 bytes
        // back, before the remembered tail's start.
        let stream = Self.audio(160_000, seed: 21)
        var splicer = ReconnectSplicer(tailBytes: 32_768, matchBytes: 2048)
        var out = Self.segments(stream[0..<100_000], size: 16_000).flatMap { splicer.process($0) }
        out += splicer.reconnected()
        // The burst arrives together; the rest segment by segment.
        out += splicer.process(contentsOf: Self.segments(stream[50_000..<114_000], size: 7_000))
        out += Self.segments(stream[114_000...], size: 7_000).flatMap { splicer.process($0) }
        #expect(Self.audioOf(out) == stream)
        #expect(splicer.lastOutcome == .spliced(repeatedBytes: 50_000))
    }

    @Test func aNewConnectionStartingBeforeTheTailWaitsUntilItReachesTheTailsEnd() {
        let stream = Self.audio(160_000, seed: 22)
        var splicer = ReconnectSplicer(tailBytes: 32_768, matchBytes: 2048)
        var out = Self.segments(stream[0..<100_000], size: 16_000).flatMap { splicer.process($0) }
        out += splicer.reconnected()
        // The new connection's first 30,000 bytes hold the tail's start but not yet its end.
        let early = splicer.process(contentsOf: Self.segments(stream[60_000..<90_000], size: 4_000))
        #expect(early.isEmpty, "nothing is sent before the splice is decided")
        #expect(splicer.lastOutcome == nil)
        out += early
        out += Self.segments(stream[90_000...], size: 4_000).flatMap { splicer.process($0) }
        #expect(Self.audioOf(out) == stream)
        #expect(splicer.lastOutcome == .spliced(repeatedBytes: 40_000))
    }

    @Test func aNewConnectionThatOnlyResemblesTheTailsStartPassesUnchanged() {
        // The new audio holds the tail's first 4 KiB, then goes elsewhere: not a repeat.
        let stream = Self.audio(100_000, seed: 23)
        let other = Self.audio(60_000, seed: 24)
        var splicer = ReconnectSplicer(tailBytes: 32_768, matchBytes: 2048)
        for segment in Self.segments(stream[0..<100_000], size: 16_000) { _ = splicer.process(segment) }
        _ = splicer.reconnected()
        let tailStart = 100_000 - 32_768
        let second = Array(other[0..<10_000]) + Array(stream[tailStart..<tailStart + 4_096]) + Array(other[10_000...])
        let out = splicer.process(contentsOf: Self.segments(second[...], size: 5_000))
        #expect(Self.audioOf(out) == second)
        #expect(splicer.lastOutcome == .noOverlap)
    }

    @Test func anyOverlapAndAnyCutGivesTheStreamOnceInOrder() {
        for seed in UInt64(0)..<60 {
            var rng = SplitMix64(seed: seed)
            let stream = Self.audio(300_000, seed: seed &+ 100)
            let sent = Int.random(in: 20_000...150_000, using: &rng)
            // No repeat at all, a short one (under the 2 KiB match), or up to the tail's 128 KiB.
            let overlap = min(sent, [0, Int.random(in: 256..<2048, using: &rng), Int.random(in: 2048...120_000, using: &rng)][Int(seed % 3)])
            let size = Int.random(in: 500...20_000, using: &rng)
            var splicer = ReconnectSplicer()
            let out = Self.run(&splicer, first: Self.segments(stream[0..<sent], size: 16_000), second: Self.segments(stream[(sent - overlap)...], size: size))
            #expect(Self.audioOf(out) == stream, "seed \(seed): sent \(sent), overlap \(overlap), segments of \(size)")
        }
    }
}
