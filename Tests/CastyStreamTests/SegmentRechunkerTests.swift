import CastyFuzzDrivers
import CastyICY
import CastyStream
import NIOCore
import Testing

@Suite struct SegmentRechunkerTests {
    @Test func anySplitGivesWholeSegmentsOfTheSameAudio() {
        let audio = ReconnectSplicerTests.audio(100_000, seed: 31)
        for seed in UInt64(0)..<40 {
            var rng = SplitMix64(seed: seed)
            let size = Int.random(in: 1...20_000, using: &rng)
            var rechunker = SegmentRechunker(size: size)
            var out: [ICYSegment] = []
            var start = 0
            while start < audio.count {
                let end = min(audio.count, start + Int.random(in: 1...30_000, using: &rng))
                out += rechunker.process(ICYSegment(audio: ByteBuffer(bytes: audio[start..<end])))
                start = end
            }
            #expect(out.allSatisfy { $0.audio.readableBytes == size }, "seed \(seed): every segment \(size) bytes")
            #expect(out.count == audio.count / size)
            #expect(ReconnectSplicerTests.audioOf(out) == Array(audio[0..<out.count * size]), "seed \(seed)")
            #expect(rechunker.heldBytes == audio.count % size)
        }
    }

    @Test func aTitleRidesOnTheFirstSegmentCutAfterItsAudio() {
        var rechunker = SegmentRechunker(size: 1_000)
        let bytes = ReconnectSplicerTests.audio(6_000, seed: 32)
        // A title after 1,500 bytes and another after 1,900 (the later wins: both come before
        // the next cut, at 2,000), and one after 4,000, exactly at a border (it rides on the
        // segment that follows).
        var out = rechunker.process(ICYSegment(audio: ByteBuffer(bytes: bytes[0..<1_500]), metadata: "StreamTitle='a';"))
        out += rechunker.process(ICYSegment(audio: ByteBuffer(bytes: bytes[1_500..<1_800])))
        out += rechunker.process(ICYSegment(audio: ByteBuffer(bytes: bytes[1_800..<1_900]), metadata: "StreamTitle='b';"))
        out += rechunker.process(ICYSegment(audio: ByteBuffer(bytes: bytes[1_900..<4_000]), metadata: "StreamTitle='c';"))
        out += rechunker.process(ICYSegment(audio: ByteBuffer(bytes: bytes[4_000..<6_000])))
        #expect(out.map(\.metadataText) == ["", "StreamTitle='b';", "", "", "StreamTitle='c';", ""])
        #expect(ReconnectSplicerTests.audioOf(out) == bytes)
    }
}
