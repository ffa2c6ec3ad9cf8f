/// One page of an Ogg bitstream (RFC 3533): a 27-byte header, a segment table of lacing values,
/// and a body holding the segments. Pages are what an Ogg stream can be cut at, so a listener
/// starts on a page boundary.
///
/// ```
///  0  "OggS"  4 version (0)  5 header type  6 granule position (64, LE)  14 serial (32, LE)
/// 18 page sequence (32, LE)  22 CRC-32 (LE)  26 segment count n  27 n lacing values, then the body
/// ```
public struct OggPage: Sendable, Equatable {
    /// The header type flags of byte 5.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The page's first packet continues a packet begun on the previous page.
        public static let continued = Flags(rawValue: 0x01)
        /// The first page of a logical bitstream ("beginning of stream").
        public static let beginOfStream = Flags(rawValue: 0x02)
        /// The last page of a logical bitstream ("end of stream").
        public static let endOfStream = Flags(rawValue: 0x04)
    }

    /// A packet, or the part of one, that lies on this page.
    public struct Packet: Sendable, Equatable {
        /// Where the packet's bytes start, counted from the start of the page (not of the body).
        public var offset: Int
        /// How many of its bytes are on this page.
        public var length: Int
        /// Whether the packet ends on this page (its last lacing value is below 255); the last
        /// packet of a page may continue on the next one.
        public var isComplete: Bool

        public init(offset: Int, length: Int, isComplete: Bool) {
            self.offset = offset
            self.length = length
            self.isComplete = isComplete
        }
    }

    /// "OggS", the capture pattern every page starts with.
    public static let capturePattern: [UInt8] = [0x4F, 0x67, 0x67, 0x53]
    /// The length of the fixed part of the header, before the segment table.
    public static let fixedHeaderLength = 27
    /// The longest possible page: 27 + 255 lacing values + 255 × 255 bytes of body (65,307 bytes).
    public static let maxLength = 27 + 255 + 255 * 255

    /// The stream structure version; always 0 (other values are rejected by ``parse(_:at:)``).
    public var version: UInt8
    /// The header type flags (continued, beginning and end of stream).
    public var headerType: Flags
    /// The codec-defined position of the last packet that ends on this page; -1 when none does.
    public var granulePosition: Int64
    /// The logical bitstream this page belongs to.
    public var serial: UInt32
    /// The page's number within its logical bitstream.
    public var sequence: UInt32
    /// The CRC-32 stored in the page (see ``crc(_:)``).
    public var checksum: UInt32
    /// The lacing values: one per 255-byte segment of the body; a value below 255 ends a packet.
    public var segmentTable: [UInt8]

    public init(
        version: UInt8 = 0, headerType: Flags, granulePosition: Int64, serial: UInt32, sequence: UInt32,
        checksum: UInt32, segmentTable: [UInt8]
    ) {
        self.version = version
        self.headerType = headerType
        self.granulePosition = granulePosition
        self.serial = serial
        self.sequence = sequence
        self.checksum = checksum
        self.segmentTable = segmentTable
    }

    /// The header's length: 27 bytes and the segment table.
    public var headerLength: Int { Self.fixedHeaderLength + self.segmentTable.count }
    /// The body's length: the sum of the lacing values.
    public var bodyLength: Int { self.segmentTable.reduce(0) { $0 + Int($1) } }
    /// The whole page's length.
    public var length: Int { self.headerLength + self.bodyLength }
    /// Whether the first packet continues one from the previous page.
    public var isContinued: Bool { self.headerType.contains(.continued) }
    /// Whether this page begins a logical bitstream.
    public var isBeginOfStream: Bool { self.headerType.contains(.beginOfStream) }
    /// Whether this page ends a logical bitstream.
    public var isEndOfStream: Bool { self.headerType.contains(.endOfStream) }

    /// The packets (or parts of packets) on this page, in order, read from the lacing values:
    /// a packet ends at the first lacing value below 255. The first one continues a packet from
    /// the previous page when ``isContinued``; the last one goes on on the next page when its
    /// ``Packet/isComplete`` is false (its last lacing value is 255).
    public var packets: [Packet] {
        var packets: [Packet] = []
        var start = self.headerLength
        var length = 0
        for lacing in self.segmentTable {
            length += Int(lacing)
            if lacing < 255 {
                packets.append(Packet(offset: start, length: length, isComplete: true))
                start += length
                length = 0
            }
        }
        if self.segmentTable.last == 255 {
            packets.append(Packet(offset: start, length: length, isComplete: false))
        }
        return packets
    }

    /// Why bytes are not an Ogg page.
    public enum Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        /// The bytes do not start with "OggS".
        case noCapturePattern
        /// The stream structure version is not 0.
        case unsupportedVersion(UInt8)
        /// Header type bits other than continued, BOS and EOS are set.
        case reservedFlags(UInt8)
        /// The CRC-32 stored in the page differs from the one computed over it.
        case checksumMismatch(stored: UInt32, computed: UInt32)

        public var description: String {
            switch self {
            case .noCapturePattern: return "no Ogg capture pattern (\"OggS\") here"
            case .unsupportedVersion(let v): return "Ogg stream structure version \(v), only version 0 exists"
            case .reservedFlags(let f): return "reserved header type bits set (0x\(String(f, radix: 16)))"
            case .checksumMismatch(let stored, let computed):
                return "CRC mismatch: the page says 0x\(Self.hex(stored)), its bytes give 0x\(Self.hex(computed)) (damaged in transit, or not a page)"
            }
        }

        private static func hex(_ v: UInt32) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 8 - s.count) + s
        }
    }

    /// What ``parse(_:at:)`` found.
    public enum ParseResult: Sendable, Equatable {
        /// A whole, valid page of `length` bytes.
        case page(OggPage, length: Int)
        /// The bytes so far start like a page but end before it does. A page is never longer than
        /// ``maxLength``, so at most that many bytes are needed.
        case needMore
        /// Not an Ogg page.
        case invalid(Invalid)
    }

    /// Reads the page that starts `offset` bytes after `bytes.startIndex`, checking its capture
    /// pattern, version, flags and CRC. Looks at no byte past the page.
    public static func parse<Bytes: RandomAccessCollection>(_ bytes: Bytes, at offset: Int) -> ParseResult
    where Bytes.Element == UInt8 {
        switch Self.parseHeader(bytes, at: offset) {
        case .needMore: return .needMore
        case .invalid(let why): return .invalid(why)
        case .header(let page):
            let length = page.length
            guard bytes.count - offset >= length else { return .needMore }
            let start = bytes.index(bytes.startIndex, offsetBy: offset)
            let computed = Self.crc(bytes[start..<bytes.index(start, offsetBy: length)])
            guard computed == page.checksum else {
                return .invalid(.checksumMismatch(stored: page.checksum, computed: computed))
            }
            return .page(page, length: length)
        }
    }

    /// What ``parseHeader(_:at:)`` found: a page header (its CRC not checked yet).
    enum HeaderResult: Sendable, Equatable {
        case header(OggPage)
        case needMore
        case invalid(Invalid)
    }

    /// Reads the header and segment table at `offset` without checking the CRC: what a reader in
    /// sync needs to know a page's serial, flags and length before its body has arrived.
    static func parseHeader<Bytes: RandomAccessCollection>(_ bytes: Bytes, at offset: Int) -> HeaderResult
    where Bytes.Element == UInt8 {
        let available = bytes.count - offset
        guard offset >= 0, available > 0 else { return .needMore }
        let start = bytes.index(bytes.startIndex, offsetBy: offset)
        func byte(_ i: Int) -> UInt8 { bytes[bytes.index(start, offsetBy: i)] }
        for i in 0..<min(4, available) where byte(i) != Self.capturePattern[i] {
            return .invalid(.noCapturePattern)
        }
        guard available > 5 else { return .needMore }
        guard byte(4) == 0 else { return .invalid(.unsupportedVersion(byte(4))) }
        guard byte(5) & 0xF8 == 0 else { return .invalid(.reservedFlags(byte(5))) }
        guard available >= Self.fixedHeaderLength else { return .needMore }
        let segments = Int(byte(26))
        guard available >= Self.fixedHeaderLength + segments else { return .needMore }
        func le(_ i: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in (0..<n).reversed() { v = v << 8 | UInt64(byte(i + k)) }
            return v
        }
        var table: [UInt8] = []
        table.reserveCapacity(segments)
        for i in 0..<segments { table.append(byte(Self.fixedHeaderLength + i)) }
        return .header(
            OggPage(
                version: 0,
                headerType: Flags(rawValue: byte(5)),
                granulePosition: Int64(bitPattern: le(6, 8)),
                serial: UInt32(le(14, 4)),
                sequence: UInt32(le(18, 4)),
                checksum: UInt32(le(22, 4)),
                segmentTable: table
            )
        )
    }

    /// The Ogg CRC-32 of a whole page: polynomial 0x04C11DB7, initial value 0, no reflection, no
    /// final XOR, computed with the page's own checksum field (bytes 22–25) read as zeros.
    /// `page` must start at the page's first byte.
    public static func crc<Bytes: Collection>(_ page: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0
        var i = 0
        for byte in page {
            let b = (i >= 22 && i < 26) ? 0 : byte
            crc = (crc << 8) ^ Self.crcTable[Int(UInt8(truncatingIfNeeded: crc >> 24) ^ b)]
            i += 1
        }
        return crc
    }

    /// The Ogg CRC-32 of `bytes` as they are (no field zeroed), continuing from `crc`.
    public static func crc<Bytes: Sequence>(updating crc: UInt32, with bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc = crc
        for byte in bytes {
            crc = (crc << 8) ^ Self.crcTable[Int(UInt8(truncatingIfNeeded: crc >> 24) ^ byte)]
        }
        return crc
    }

    static let crcTable: [UInt32] = (0..<256).map { (n: Int) -> UInt32 in
        var r = UInt32(n) << 24
        for _ in 0..<8 {
            r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1
        }
        return r
    }
}
