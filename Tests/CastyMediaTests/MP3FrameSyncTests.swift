import CastyMedia
import Testing

@Suite struct MP3FrameSyncTests {
    /// A 128 kbps 44.1 kHz MPEG-1 Layer III frame header (417 or 418 bytes with padding).
    static let header: [UInt8] = [0xFF, 0xFB, 0x90, 0x64]

    @Test func computesFrameLengths() {
        #expect(MP3FrameSync.frameLength(0xFF, 0xFB, 0x90) == 417)
        #expect(MP3FrameSync.frameLength(0xFF, 0xFB, 0x92) == 418)  // padded
        #expect(MP3FrameSync.frameLength(0xFF, 0xFB, 0xE0) == 1044)  // 320 kbps
        #expect(MP3FrameSync.frameLength(0xFF, 0xF3, 0xC0) == 417)  // MPEG-2 L3 128 kbps 22.05 kHz
        #expect(MP3FrameSync.frameLength(0xFF, 0xF3, 0x90) == 261)  // MPEG-2 L3 80 kbps 22.05 kHz
        #expect(MP3FrameSync.frameLength(0xFF, 0xFB, 0xF0) == nil)  // bad bitrate
        #expect(MP3FrameSync.frameLength(0xFF, 0xFB, 0x9C) == nil)  // reserved sample rate
        #expect(MP3FrameSync.frameLength(0xFE, 0xFB, 0x90) == nil)
    }

    @Test func findsTheFirstFrameFollowedByAnother() {
        var frame = Self.header + Array(repeating: 0x55, count: 413)
        frame[100] = 0xFF  // a false sync inside the audio data
        frame[101] = 0xFB
        frame[102] = 0x90
        let junk: [UInt8] = [0x12, 0xFF, 0xFB, 0x90, 0x00, 0x34, 0x56]  // a sync not followed by a frame
        let stream = junk + frame + frame + frame
        #expect(MP3FrameSync.firstFrame(in: stream) == junk.count)
        #expect(MP3FrameSync.firstFrame(in: Array(repeating: UInt8(0x55), count: 2000)) == nil)
    }
}
