import CastyICY
import CastyStream
import NIOCore
import Testing

@Suite struct SegmentRingTests {
    func segment(_ seq: UInt64, bytes: Int = 100) -> NumberedSegment {
        NumberedSegment(seq: seq, segment: ICYSegment(audio: ByteBuffer(repeating: UInt8(seq % 256), count: bytes)))
    }

    @Test func keepsTheNewestWithinItsCapacity() {
        var ring = SegmentRing<NumberedSegment>(capacityBytes: 350)
        for seq in UInt64(10)..<20 { ring.append(self.segment(seq)) }
        #expect(ring.firstSeq == 17)
        #expect(ring.lastSeq == 19)
        #expect(ring.audioBytes == 300)
        #expect(ring[seq: 18]?.seq == 18)
        #expect(ring[seq: 16] == nil)
        #expect(ring[seq: 20] == nil)
    }

    @Test func servesCatchUpAndSaysWhenItIsTooLate() {
        var ring = SegmentRing<NumberedSegment>(capacityBytes: 1000)
        for seq in UInt64(0)..<20 { ring.append(self.segment(seq)) }
        #expect(ring.segments(from: 15)?.map(\.seq) == [15, 16, 17, 18, 19])
        #expect(ring.segments(from: 20)?.isEmpty == true)
        #expect(ring.segments(from: 9) == nil, "segment 9 is gone: the caller must know it lost data")
    }

    @Test func burstIsTheNewestSegmentsCoveringTheBytes() {
        var ring = SegmentRing<NumberedSegment>(capacityBytes: 10_000)
        for seq in UInt64(0)..<20 { ring.append(self.segment(seq)) }
        #expect(ring.newest(audioBytes: 250).map(\.seq) == [17, 18, 19])
        #expect(ring.newest(audioBytes: 0).isEmpty)
        #expect(ring.newest(audioBytes: 1_000_000).count == 20)
    }

    @Test func alwaysKeepsAtLeastOneSegment() {
        var ring = SegmentRing<NumberedSegment>(capacityBytes: 10)
        ring.append(self.segment(0, bytes: 500))
        ring.append(self.segment(1, bytes: 500))
        #expect(ring.count == 1)
        #expect(ring.firstSeq == 1)
    }
}
