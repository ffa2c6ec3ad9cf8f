/// Finds where MPEG audio frames start, so that a listener's first byte is a frame header and
/// playback starts cleanly.
public enum MP3FrameSync {
    /// The length in bytes of the MPEG-1/2/2.5 Layer I/II/III frame whose 4-byte header starts at
    /// `header`, or `nil` if these bytes are not a valid frame header.
    public static func frameLength(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) -> Int? {
        guard b0 == 0xFF, b1 & 0xE0 == 0xE0 else { return nil }
        let version = (b1 >> 3) & 0x3  // 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
        let layer = (b1 >> 1) & 0x3  // 1: III, 2: II, 3: I, 0: reserved
        let bitrateIndex = Int(b2 >> 4)
        let rateIndex = Int((b2 >> 2) & 0x3)
        let padding = Int((b2 >> 1) & 0x1)
        guard version != 1, layer != 0, bitrateIndex != 0, bitrateIndex != 15, rateIndex != 3 else { return nil }
        let isMPEG1 = version == 3
        let bitrates: [Int]
        switch (isMPEG1, layer) {
        case (true, 3): bitrates = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448]
        case (true, 2): bitrates = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384]
        case (true, _): bitrates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        case (false, 3): bitrates = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256]
        case (false, _): bitrates = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        }
        let baseRates = [44100, 48000, 32000]
        let sampleRate = baseRates[rateIndex] / (isMPEG1 ? 1 : (version == 2 ? 2 : 4))
        let bitrate = bitrates[bitrateIndex] * 1000
        if layer == 3 {  // Layer I: 4-byte slots
            return (12 * bitrate / sampleRate + padding) * 4
        }
        let samplesPerFrame = (layer == 1 && !isMPEG1) ? 576 : 1152
        return samplesPerFrame / 8 * bitrate / sampleRate + padding
    }

    /// The offset of the first frame header in `bytes` that is followed by another valid header
    /// exactly one frame later (two in a row rule out sync bytes that are only audio data), or
    /// `nil` if there is none.
    public static func firstFrame<Bytes: RandomAccessCollection>(in bytes: Bytes) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = bytes.startIndex
        var i = start
        while i + 3 < bytes.endIndex {
            if bytes[i] == 0xFF, let length = frameLength(bytes[i], bytes[i + 1], bytes[i + 2]) {
                let next = i + length
                if next + 2 < bytes.endIndex, bytes[next + 1] & 0xE0 == 0xE0,
                    frameLength(bytes[next], bytes[next + 1], bytes[next + 2]) != nil
                {
                    return i - start
                }
            }
            i += 1
        }
        return nil
    }
}
