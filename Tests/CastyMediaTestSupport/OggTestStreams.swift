import CastyMedia
import NIOCore

/// Builds Ogg pages and realistic header packets in code, so that the tests need no media files.
public enum OggTestStreams {
    /// One page with the given lacing values and body, its CRC filled in.
    public static func page(
        flags: OggPage.Flags = [], granule: Int64 = 0, serial: UInt32, sequence: UInt32, lacing: [UInt8], body: [UInt8]
    ) -> [UInt8] {
        precondition(lacing.count <= 255 && lacing.reduce(0) { $0 + Int($1) } == body.count)
        var page: [UInt8] = Array("OggS".utf8) + [0, flags.rawValue]
        page += withUnsafeBytes(of: UInt64(bitPattern: granule).littleEndian, Array.init)
        page += withUnsafeBytes(of: serial.littleEndian, Array.init)
        page += withUnsafeBytes(of: sequence.littleEndian, Array.init)
        page += [0, 0, 0, 0, UInt8(lacing.count)] + lacing + body
        let crc = OggPage.crc(page)
        page.replaceSubrange(22..<26, with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        return page
    }

    /// A logical stream's page writer: lays packets out with lacing values, at most
    /// `segmentsPerPage` lacing values on a page, so that packets span pages when they are long.
    public struct Writer {
        var serial: UInt32
        var sequence: UInt32 = 0
        var granule: Int64 = 0

        /// A writer for the logical stream `serial`, from its first page (sequence 0, granule 0).
        public init(serial: UInt32) { self.serial = serial }

        /// The pages holding `packets`, the first one flagged `first` (BOS for a stream's first
        /// page), the last one `last`; a page begins a fresh packet unless marked continued.
        public mutating func pages(_ packets: [[UInt8]], first: OggPage.Flags = [], last: OggPage.Flags = [], segmentsPerPage: Int = 255) -> [[UInt8]] {
            var segments: [(lacing: UInt8, bytes: ArraySlice<UInt8>, endsPacket: Bool)] = []
            for packet in packets {
                var rest = packet[...]
                while rest.count >= 255 {
                    segments.append((255, rest.prefix(255), false))
                    rest = rest.dropFirst(255)
                }
                segments.append((UInt8(rest.count), rest, true))
            }
            var pages: [[UInt8]] = []
            var index = 0
            var continued = false
            while index < segments.count {
                let these = segments[index..<min(index + segmentsPerPage, segments.count)]
                index += these.count
                var flags: OggPage.Flags = continued ? .continued : []
                if pages.isEmpty { flags.formUnion(first) }
                if index == segments.count { flags.formUnion(last) }
                self.granule += 960
                pages.append(
                    OggTestStreams.page(
                        flags: flags, granule: these.last!.endsPacket ? self.granule : -1, serial: self.serial,
                        sequence: self.sequence, lacing: these.map(\.lacing), body: these.flatMap(\.bytes)
                    )
                )
                self.sequence += 1
                continued = !these.last!.endsPacket
            }
            return pages
        }
    }

    static func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }

    /// A Vorbis comment structure: vendor, count, `KEY=value` entries.
    static func commentBlock(_ comments: [(String, String)], vendor: String = "Lavf59.27.100") -> [UInt8] {
        var block = le32(vendor.utf8.count) + Array(vendor.utf8) + le32(comments.count)
        for (key, value) in comments {
            let entry = Array("\(key)=\(value)".utf8)
            block += le32(entry.count) + entry
        }
        return block
    }

    /// Vorbis identification (30 bytes), comment and setup headers.
    public static func vorbisHeaders(_ comments: [(String, String)], setupBytes: Int = 3000) -> [[UInt8]] {
        let id: [UInt8] = [0x01] + Array("vorbis".utf8) + [0, 0, 0, 0, 2] + le32(44100) + le32(0) + le32(128_000) + le32(0) + [0xB8, 0x01]
        let comment = [0x03] + Array("vorbis".utf8) + commentBlock(comments) + [0x01]
        let setup = [0x05] + Array("vorbis".utf8) + (0..<setupBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        return [id, comment, setup]
    }

    /// OpusHead (19 bytes) and OpusTags.
    public static func opusHeaders(_ comments: [(String, String)], padding: Int = 0) -> [[UInt8]] {
        let head: [UInt8] = Array("OpusHead".utf8) + [1, 2, 0x38, 0x01] + le32(48000) + [0, 0, 0]
        let tags = Array("OpusTags".utf8) + commentBlock(comments) + [UInt8](repeating: 0, count: padding)
        return [head, tags]
    }

    /// The Ogg FLAC mapping: the BOS packet (51 bytes, announcing `count` header packets, 0 for
    /// unknown), then a VORBIS_COMMENT metadata block (the last one).
    public static func flacHeaders(_ comments: [(String, String)], count: UInt16 = 1) -> [[UInt8]] {
        let streamInfo: [UInt8] = [0x00, 0x00, 0x00, 34] + [UInt8](repeating: 0x12, count: 34)
        let bos: [UInt8] = [0x7F] + Array("FLAC".utf8) + [1, 0, UInt8(count >> 8), UInt8(count & 0xFF)] + Array("fLaC".utf8) + streamInfo
        let block = commentBlock(comments)
        let comment: [UInt8] = [0x84, UInt8(block.count >> 16), UInt8((block.count >> 8) & 0xFF), UInt8(block.count & 0xFF)] + block
        return [bos, comment]
    }

    /// The Speex header (80 bytes, `extra` extra headers) and its comment packet.
    public static func speexHeaders(_ comments: [(String, String)], extra: Int = 0) -> [[UInt8]] {
        var header = Array("Speex   ".utf8) + Array("1.2rc1".utf8) + [UInt8](repeating: 0, count: 14)
        // version id, header size, rate, mode, mode bitstream version, channels, bitrate, frame size,
        // VBR, frames per packet
        header += le32(1) + le32(80) + le32(16000) + le32(1) + le32(4) + le32(1) + le32(0xFFFF_FFFF) + le32(320) + le32(0) + le32(1)
        header += le32(extra)  // extra_headers, at offset 68
        header += le32(0) + le32(0)  // reserved
        precondition(header.count == 80)
        return [header, commentBlock(comments)] + (0..<extra).map { [0xEE, UInt8($0)] }
    }

    /// `count` audio packets of `size` bytes that never begin with 0xFF (deterministic bytes).
    public static func audioPackets(_ count: Int, size: Int = 700, seed: UInt8 = 1) -> [[UInt8]] {
        (0..<count).map { n in
            (0..<size).map { i in UInt8(truncatingIfNeeded: (i &* 31) ^ (n &* 17) &+ Int(seed)) & 0x7F }
        }
    }
}
