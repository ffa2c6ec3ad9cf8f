/// Finds where AAC frames in ADTS (Audio Data Transport Stream, ISO/IEC 13818-7 and 14496-3)
/// start, so that a listener's first byte is a frame header and playback starts cleanly.
///
/// AAC LC and HE-AAC (v1 and v2, "aacp") share the same 7-byte ADTS header (9 bytes with a CRC),
/// whose 13-bit `frame_length` counts the whole frame, header included.
public enum ADTSFrameSync {
    /// The shortest header: 7 bytes without a CRC (`protection_absent` = 1), 9 with one.
    public static let headerLength = 7

    /// The length in bytes of the ADTS frame whose header starts `offset` bytes after
    /// `bytes.startIndex`, or `nil` if these bytes are not a valid ADTS header (or fewer than 7
    /// bytes are left).
    ///
    /// Valid means: the syncword 0xFFF, layer `00`, a sampling-frequency index below 13, and a
    /// `frame_length` that holds at least the header itself (7 bytes, 9 with a CRC). Both values
    /// of the ID bit (MPEG-4 and MPEG-2) are accepted.
    public static func frameLength<Bytes: RandomAccessCollection>(_ bytes: Bytes, at offset: Int) -> Int?
    where Bytes.Element == UInt8 {
        guard offset >= 0, bytes.count - offset >= Self.headerLength else { return nil }
        let i = bytes.index(bytes.startIndex, offsetBy: offset)
        let b0 = bytes[i]
        let b1 = bytes[bytes.index(i, offsetBy: 1)]
        guard b0 == 0xFF, b1 & 0xF6 == 0xF0 else { return nil }  // syncword, layer 00
        let b2 = bytes[bytes.index(i, offsetBy: 2)]
        guard (b2 >> 2) & 0x0F < 13 else { return nil }  // sampling_frequency_index 13–15: reserved
        let b3 = bytes[bytes.index(i, offsetBy: 3)]
        let b4 = bytes[bytes.index(i, offsetBy: 4)]
        let b5 = bytes[bytes.index(i, offsetBy: 5)]
        let length = Int(b3 & 0x03) << 11 | Int(b4) << 3 | Int(b5 >> 5)
        let protectionAbsent = b1 & 0x01 == 1
        guard length >= (protectionAbsent ? 7 : 9) else { return nil }
        return length
    }

    /// The offset (from `bytes.startIndex`) of the first ADTS header in `bytes` that is followed
    /// by another valid header exactly one frame later, or `nil` if there is none (two in a row
    /// rule out sync bytes that are only audio data; the same rule as
    /// ``MP3FrameSync/firstFrame(in:)``). The second header must also describe the same stream:
    /// the same ID bit, profile, sampling-frequency index and channel configuration.
    ///
    /// Linear in the length of `bytes`: every offset is looked at once, plus one header per
    /// candidate.
    public static func firstFrame<Bytes: RandomAccessCollection>(in bytes: Bytes) -> Int?
    where Bytes.Element == UInt8 {
        let count = bytes.count
        var offset = 0
        var i = bytes.startIndex
        while count - offset >= Self.headerLength {
            if bytes[i] == 0xFF, let length = Self.frameLength(bytes, at: offset) {
                let next = offset + length
                if Self.frameLength(bytes, at: next) != nil,
                    Self.sameStream(bytes, offset, next)
                {
                    return offset
                }
            }
            offset += 1
            bytes.formIndex(after: &i)
        }
        return nil
    }

    /// Whether the headers at offsets `a` and `b` (both valid) have the same fixed fields: ID,
    /// profile, sampling-frequency index and channel configuration.
    private static func sameStream<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ a: Int, _ b: Int) -> Bool
    where Bytes.Element == UInt8 {
        func fixed(_ offset: Int) -> (UInt8, UInt8, UInt8) {
            let i = bytes.index(bytes.startIndex, offsetBy: offset)
            return (
                bytes[bytes.index(i, offsetBy: 1)] & 0x08,  // ID
                bytes[bytes.index(i, offsetBy: 2)] & 0xFD,  // profile, sampling index, channel config high bit
                bytes[bytes.index(i, offsetBy: 3)] & 0xC0  // channel config low bits
            )
        }
        return fixed(a) == fixed(b)
    }
}
