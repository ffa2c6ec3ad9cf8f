import CastyMedia
import Testing

@Suite struct ADTSFrameSyncTests {
    /// An ADTS header for a frame of `length` bytes (header included): AAC LC, 44.1 kHz, stereo by
    /// default; 9 bytes with a CRC (`protection_absent` = 0), 7 without.
    static func header(length: Int, crc: Bool = false, mpeg2: Bool = false, profile: UInt8 = 1, rateIndex: UInt8 = 4, channels: UInt8 = 2) -> [UInt8] {
        var h: [UInt8] = [
            0xFF,
            0xF0 | (mpeg2 ? 0x08 : 0) | (crc ? 0 : 1),
            profile << 6 | rateIndex << 2 | channels >> 2,
            (channels & 3) << 6 | UInt8((length >> 11) & 3),
            UInt8((length >> 3) & 0xFF),
            UInt8(length & 7) << 5 | 0x1F,
            0xFC,
        ]
        if crc { h += [0x12, 0x34] }
        return h
    }

    /// A whole frame: its header, then payload bytes that hold no 0xFF.
    static func frame(length: Int, crc: Bool = false, mpeg2: Bool = false, rateIndex: UInt8 = 4) -> [UInt8] {
        let h = header(length: length, crc: crc, mpeg2: mpeg2, rateIndex: rateIndex)
        return h + (0..<(length - h.count)).map { UInt8(truncatingIfNeeded: $0 &* 13) & 0x7F }
    }

    @Test func readsTheFrameLength() {
        #expect(ADTSFrameSync.frameLength(Self.header(length: 371), at: 0) == 371)
        #expect(ADTSFrameSync.frameLength(Self.header(length: 8191), at: 0) == 8191)  // the 13-bit maximum
        #expect(ADTSFrameSync.frameLength(Self.header(length: 7), at: 0) == 7)
        #expect(ADTSFrameSync.frameLength(Self.header(length: 6), at: 0) == nil)  // shorter than its header
        #expect(ADTSFrameSync.frameLength(Self.header(length: 9, crc: true), at: 0) == 9)
        #expect(ADTSFrameSync.frameLength(Self.header(length: 8, crc: true), at: 0) == nil)  // no room for the CRC
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500, mpeg2: true), at: 0) == 500)  // ID bit 1: MPEG-2
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500, profile: 0), at: 0) == 500)  // AAC Main
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500, rateIndex: 12), at: 0) == 500)  // 7350 Hz
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500, rateIndex: 13), at: 0) == nil)  // reserved
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500, rateIndex: 15), at: 0) == nil)  // escape value
        var layer = Self.header(length: 500)
        layer[1] |= 0x02  // layer 01: an MPEG audio Layer III header, not ADTS
        #expect(ADTSFrameSync.frameLength(layer, at: 0) == nil)
        var sync = Self.header(length: 500)
        sync[1] &= 0xEF  // syncword 0xFFE
        #expect(ADTSFrameSync.frameLength(sync, at: 0) == nil)
        #expect(ADTSFrameSync.frameLength(Self.header(length: 500).prefix(6), at: 0) == nil)  // too few bytes
        #expect(ADTSFrameSync.frameLength([0, 0] + Self.header(length: 300), at: 2) == 300)
        #expect(ADTSFrameSync.frameLength(([0, 0] + Self.header(length: 300))[1...], at: 1) == 300)  // offsets from startIndex
        // MP3 headers are never ADTS headers, and the other way round.
        #expect(ADTSFrameSync.frameLength([0xFF, 0xFB, 0x90, 0x64, 0, 0, 0], at: 0) == nil)
        let adts = Self.header(length: 400)
        #expect(MP3FrameSync.frameLength(adts[0], adts[1], adts[2]) == nil)
    }

    @Test func findsTheFirstFrameFollowedByAnother() {
        for (crc, mpeg2) in [(false, false), (true, false), (false, true), (true, true)] {
            let frame = Self.frame(length: 371, crc: crc, mpeg2: mpeg2)
            var withFalseSync = Self.frame(length: 380, crc: crc, mpeg2: mpeg2)
            withFalseSync.replaceSubrange(100..<107, with: Self.header(length: 50))  // a sync inside the payload
            let junk: [UInt8] = [0x12, 0xFF, 0xF1] + Self.header(length: 40) + [0x00, 0x34]  // a header not followed by a frame
            let stream = junk + withFalseSync + frame + frame
            #expect(ADTSFrameSync.firstFrame(in: stream) == junk.count, "crc \(crc), mpeg2 \(mpeg2)")
            #expect(ADTSFrameSync.firstFrame(in: stream[5...]) == junk.count - 5)
        }
        // A header whose next "frame" describes another stream (another sampling rate) is no match.
        let a = Self.frame(length: 300, rateIndex: 4)
        let b = Self.frame(length: 300, rateIndex: 3)
        #expect(ADTSFrameSync.firstFrame(in: a + b) == nil)
        #expect(ADTSFrameSync.firstFrame(in: a + a) == 0)
        // One frame alone is not enough; the second header must be whole.
        #expect(ADTSFrameSync.firstFrame(in: a) == nil)
        #expect(ADTSFrameSync.firstFrame(in: a + a.prefix(6)) == nil)
        #expect(ADTSFrameSync.firstFrame(in: a + a.prefix(7)) == 0)
        #expect(ADTSFrameSync.firstFrame(in: [UInt8](repeating: 0xFF, count: 4000)) == nil)
        #expect(ADTSFrameSync.firstFrame(in: [UInt8]()) == nil)
    }

    @Test func heAACUsesTheSameHeader() {
        // HE-AAC (SBR) in ADTS is signalled implicitly: the header shows AAC LC at half the output
        // rate (here 24 kHz, index 6, for 48 kHz out).
        let frame = Self.frame(length: 200, rateIndex: 6)
        #expect(ADTSFrameSync.firstFrame(in: frame + frame + frame) == 0)
    }
}
