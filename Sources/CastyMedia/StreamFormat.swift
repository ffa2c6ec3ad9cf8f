/// The container a radio's audio comes in, as far as Casty cares: where a new listener may start.
///
/// MP3 and AAC (ADTS) streams can be joined at any frame header; Ogg streams (Vorbis, Opus, FLAC,
/// Speex) at a page, after the stream's header pages; anything else is relayed as it comes
/// (`opaque`), and a listener starts wherever the relay's buffer does.
public enum StreamFormat: String, Sendable, Equatable, CaseIterable {
    /// MPEG-1/2/2.5 audio, Layer I, II or III.
    case mp3
    /// AAC (LC or HE-AAC) in ADTS frames.
    case aac
    /// An Ogg bitstream (RFC 3533).
    case ogg
    /// Anything else: native FLAC, AAC in LATM or MP4, WebM, unknown types.
    case opaque

    /// The format a `Content-Type` names: parameters (`; charset=…`, `; codecs=…`) and case are
    /// ignored; an absent, empty or unknown type is ``opaque``.
    ///
    /// - `audio/mpeg`, `audio/mp3`, `audio/mpeg3`, `audio/x-mpeg`, `audio/x-mp3`, `audio/x-mpeg3`,
    ///   `audio/mpg`: ``mp3``
    /// - `audio/aac`, `audio/aacp`, `audio/x-aac`, `audio/x-aacp`, `audio/aac+adts`: ``aac``
    ///   (`audio/mp4a-latm` is not ADTS: ``opaque``)
    /// - `audio/ogg`, `application/ogg`, `audio/x-ogg`, `application/x-ogg`, `audio/opus`,
    ///   `audio/vorbis`, `audio/x-vorbis`, `audio/x-vorbis+ogg`, `audio/x-opus+ogg`,
    ///   `audio/x-speex`, `audio/speex`, `audio/flac+ogg`, `audio/x-flac+ogg`: ``ogg``
    ///   (`audio/flac` alone is native FLAC: ``opaque``)
    public init(contentType: String?) {
        guard let contentType else {
            self = .opaque
            return
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        switch mediaType.trimmingSpaces().lowercased() {
        case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3", "audio/x-mpeg3", "audio/mpg":
            self = .mp3
        case "audio/aac", "audio/aacp", "audio/x-aac", "audio/x-aacp", "audio/aac+adts":
            self = .aac
        case "audio/ogg", "application/ogg", "audio/x-ogg", "application/x-ogg", "audio/opus", "audio/vorbis",
            "audio/x-vorbis", "audio/x-vorbis+ogg", "audio/x-opus+ogg", "audio/speex", "audio/x-speex",
            "audio/flac+ogg", "audio/x-flac+ogg", "audio/ogg+flac":
            self = .ogg
        default:
            self = .opaque
        }
    }

    /// A name for log lines: "MP3", "AAC", "Ogg", "an unknown format".
    public var name: String {
        switch self {
        case .mp3: return "MP3"
        case .aac: return "AAC (ADTS)"
        case .ogg: return "Ogg"
        case .opaque: return "an unknown format"
        }
    }

    /// What the first bytes of a stream look like, or `nil` when they do not tell (too few bytes,
    /// or nothing recognisable):
    ///
    /// - ``ogg`` when a whole Ogg page with a correct CRC starts somewhere in them;
    /// - ``mp3`` when two MPEG audio frames follow each other (``MP3FrameSync/firstFrame(in:)``),
    ///   also after an ID3v2 tag;
    /// - ``aac`` when two ADTS frames do (``ADTSFrameSync/firstFrame(in:)``).
    ///
    /// When both MP3 and ADTS frames are found, the earlier wins. Never ``opaque``: bytes alone
    /// cannot say that no known format will show up later.
    public static func sniff<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> StreamFormat?
    where Bytes.Element == UInt8 {
        if StreamFormat.ogg.startOffset(in: bytes) != nil { return .ogg }
        var skip = 0
        if let tag = Self.id3v2Length(bytes) {
            guard tag < bytes.count else { return nil }  // the tag is not over yet: undecided
            skip = tag
        }
        let rest = bytes[bytes.index(bytes.startIndex, offsetBy: skip)...]
        let mp3 = Self.firstMP3Frame(in: rest)
        let aac = ADTSFrameSync.firstFrame(in: rest)
        switch (mp3, aac) {
        case (let m?, let a?): return m <= a ? .mp3 : .aac
        case (_?, nil): return .mp3
        case (nil, _?): return .aac
        case (nil, nil): return nil
        }
    }

    /// ``MP3FrameSync/firstFrame(in:)`` on any bytes, without a copy when they are contiguous.
    private static func firstMP3Frame<Bytes: Collection>(in bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        if let offset = bytes.withContiguousStorageIfAvailable({ MP3FrameSync.firstFrame(in: $0) }) { return offset }
        return MP3FrameSync.firstFrame(in: Array(bytes))
    }

    /// The length of the ID3v2 tag (header, footer if any, and body) that `bytes` start with, or
    /// `nil` if they do not start with one.
    static func id3v2Length<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        guard bytes.count >= 10 else { return nil }
        let b = Array(bytes.prefix(10))
        guard b[0] == 0x49, b[1] == 0x44, b[2] == 0x33, b[3] != 0xFF, b[4] != 0xFF,
            b[6] & 0x80 == 0, b[7] & 0x80 == 0, b[8] & 0x80 == 0, b[9] & 0x80 == 0
        else { return nil }
        let size = Int(b[6]) << 21 | Int(b[7]) << 14 | Int(b[8]) << 7 | Int(b[9])
        let footer = b[5] & 0x10 != 0 ? 10 : 0
        return 10 + size + footer
    }

    /// The offset (from `bytes.startIndex`) where a listener may start in `bytes`, or `nil` if
    /// there is no such place in them:
    ///
    /// - ``mp3``: the first MPEG frame followed by another (``MP3FrameSync/firstFrame(in:)``);
    /// - ``aac``: the first ADTS frame followed by another (``ADTSFrameSync/firstFrame(in:)``);
    /// - ``ogg``: the first whole page with the capture pattern, version 0 and a correct CRC
    ///   (``OggPage/parse(_:at:)``); a listener starting on an audio page also needs the stream's
    ///   header pages first (``OggStreamTracker``);
    /// - ``opaque``: 0, anywhere is as good as anywhere else.
    public func startOffset<Bytes: RandomAccessCollection>(in bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        switch self {
        case .mp3: return Self.firstMP3Frame(in: bytes)
        case .aac: return ADTSFrameSync.firstFrame(in: bytes)
        case .opaque: return 0
        case .ogg:
            let count = bytes.count
            var offset = 0
            var i = bytes.startIndex
            while count - offset >= OggPage.fixedHeaderLength {
                if bytes[i] == 0x4F, case .page = OggPage.parse(bytes, at: offset) {
                    return offset
                }
                offset += 1
                bytes.formIndex(after: &i)
            }
            return nil
        }
    }

    /// What a radio's stream is, from what it says (its `Content-Type`) and what it sends (its
    /// first bytes): the format to relay it as, and a sentence for the log when the two disagree.
    public struct Check: Sendable, Equatable {
        /// The format the content type names.
        public let declared: StreamFormat
        /// What the bytes look like (``StreamFormat/sniff(_:)``), `nil` if they do not tell.
        public let sniffed: StreamFormat?
        /// The format to relay the stream as.
        public let format: StreamFormat
        /// Why ``format`` is not what the radio says, for the log ("the radio says audio/mpeg but
        /// sends Ogg; relaying it as Ogg"), or `nil` when they agree or the bytes do not tell.
        public let mismatch: String?

        /// Decides between the content type and the bytes: a CRC-checked Ogg page always wins;
        /// otherwise the declared format stands if its own frames are in the bytes, and the
        /// sniffed one replaces it if they are not. Bytes that tell nothing leave the declared
        /// format.
        ///
        /// - Parameters:
        ///   - contentType: the radio's `Content-Type` header, if it sent one.
        ///   - firstBytes: the first audio bytes (a few KiB are plenty: 2 frames or 1 page).
        public init<Bytes: RandomAccessCollection>(contentType: String?, firstBytes: Bytes) where Bytes.Element == UInt8 {
            let declared = StreamFormat(contentType: contentType)
            let sniffed = StreamFormat.sniff(firstBytes)
            self.declared = declared
            self.sniffed = sniffed
            let format: StreamFormat
            if let sniffed, sniffed != declared {
                if sniffed != .ogg, declared != .opaque, declared.startOffset(in: firstBytes) != nil {
                    format = declared
                } else {
                    format = sniffed
                }
            } else {
                format = declared
            }
            self.format = format
            if format == declared {
                self.mismatch = nil
            } else if let contentType, !contentType.trimmingSpaces().isEmpty {
                self.mismatch = "the radio says \(contentType) but sends \(format.name); relaying it as \(format.name)"
            } else {
                self.mismatch = "the radio sends no content type, but its bytes are \(format.name); relaying it as \(format.name)"
            }
        }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring { self[...].trimmingSpaces() }
}
