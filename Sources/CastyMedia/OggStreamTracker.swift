import NIOCore

/// The codec of an Ogg logical bitstream, from its first packet.
public enum OggCodec: String, Sendable, Equatable, CaseIterable {
    /// "\x01vorbis": 3 header packets (identification, comment, setup).
    case vorbis
    /// "OpusHead": 2 header packets (OpusHead, OpusTags).
    case opus
    /// "\x7FFLAC" (the Ogg FLAC mapping): the first packet says how many header packets follow.
    case flac
    /// "Speex   ": 2 header packets, plus the extra headers the first one announces.
    case speex
    /// Anything else (Theora, a skeleton, …): the BOS page alone is its header set.
    case unknown

    /// The codec whose first header packet is `packet`.
    public init<Bytes: Collection>(firstPacket packet: Bytes) where Bytes.Element == UInt8 {
        let head = Array(packet.prefix(8))
        if head.starts(with: [0x01, 0x76, 0x6F, 0x72, 0x62, 0x69, 0x73]) {  // \x01vorbis
            self = .vorbis
        } else if head == Array("OpusHead".utf8) {
            self = .opus
        } else if head.starts(with: [0x7F, 0x46, 0x4C, 0x41, 0x43]) {  // \x7FFLAC
            self = .flac
        } else if head == Array("Speex   ".utf8) {
            self = .speex
        } else {
            self = .unknown
        }
    }
}

/// The header pages of an Ogg chain: what a listener who starts on an audio page must receive
/// first, so that its decoder knows the codec and its set-up.
public struct OggHeaders: Sendable, Equatable {
    /// One comment of the stream's comment header (`KEY=value`, keys compared case-insensitively).
    public struct Comment: Sendable, Equatable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The header pages exactly as received, BOS page(s) first: every page of the chain's logical
    /// streams up to the last header packet.
    public var pages: ByteBuffer
    /// The codec of the main logical stream (the first one whose codec is known).
    public var codec: OggCodec
    /// The serial of the main logical stream.
    public var serial: UInt32
    /// The serials of every logical stream of the chain (several when multiplexed), in BOS order.
    public var serials: [UInt32]
    /// "ARTIST - TITLE" from the main stream's comments (or either alone), `nil` without them.
    public var title: String?
    /// The main stream's comments, in order.
    public var comments: [Comment]

    public init(
        pages: ByteBuffer, codec: OggCodec, serial: UInt32, serials: [UInt32]? = nil, title: String? = nil,
        comments: [Comment] = []
    ) {
        self.pages = pages
        self.codec = codec
        self.serial = serial
        self.serials = serials ?? [serial]
        self.title = title
        self.comments = comments
    }

    /// "ARTIST - TITLE" (or either alone) from `comments`: the first `ARTIST` and `TITLE` that are
    /// not empty, keys compared case-insensitively.
    public static func title(from comments: [Comment]) -> String? {
        let artist = comments.first { $0.key.uppercased() == "ARTIST" && !$0.value.isEmpty }?.value
        let title = comments.first { $0.key.uppercased() == "TITLE" && !$0.value.isEmpty }?.value
        switch (artist, title) {
        case (let a?, let t?): return "\(a) - \(t)"
        case (let a?, nil): return a
        case (nil, let t?): return t
        case (nil, nil): return nil
        }
    }

    /// The comments of a Vorbis comment structure (vendor string, count, `length` + `KEY=value`
    /// entries, all lengths 32-bit little endian), as Vorbis, Opus, Speex and FLAC carry it.
    /// Reads what is well-formed and stops at the first length that runs past the bytes.
    public static func comments<Bytes: Collection>(vorbisCommentBlock bytes: Bytes) -> [Comment]
    where Bytes.Element == UInt8 {
        let b = Array(bytes)
        var i = 0
        func u32() -> Int? {
            guard b.count - i >= 4 else { return nil }
            let v = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
            i += 4
            return v
        }
        guard let vendor = u32(), vendor <= b.count - i else { return [] }
        i += vendor
        guard let count = u32() else { return [] }
        var comments: [Comment] = []
        for _ in 0..<count {
            guard let length = u32(), length <= b.count - i else { break }
            let entry = b[i..<i + length]
            i += length
            let key: ArraySlice<UInt8>
            let value: ArraySlice<UInt8>
            if let equals = entry.firstIndex(of: 0x3D) {
                key = entry[..<equals]
                value = entry[(equals + 1)...]
            } else {
                key = entry
                value = []
            }
            comments.append(Comment(key: String(decoding: key, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return comments
    }
}

/// A place where a new listener may start an Ogg stream.
public struct OggStart: Sendable, Equatable {
    /// Where the page begins, counted from the fed chunk's `readerIndex`. Negative when the page
    /// began in an earlier chunk and could only be recognised in this one (see
    /// ``OggFeedResult/starts``).
    public var offset: Int
    /// Where the page begins, counted from the first byte ever fed to the tracker.
    public var streamOffset: Int
    /// The header pages the listener must receive before this page; `nil` when the page begins a
    /// chain (a BOS page: the headers follow in the stream itself).
    public var headers: OggHeaders?

    public init(offset: Int, streamOffset: Int, headers: OggHeaders?) {
        self.offset = offset
        self.streamOffset = streamOffset
        self.headers = headers
    }
}

/// What ``OggStreamTracker/feed(_:)`` learned from one chunk.
public struct OggFeedResult: Sendable, Equatable {
    /// The first place in this chunk where a new listener may start: the first of ``starts``
    /// whose page's first byte is in this chunk, `nil` if there is none.
    public var start: OggStart?
    /// Every place where a new listener may start that the tracker recognised while reading this
    /// chunk, in stream order. A page is recognised once its header (27 bytes and the segment
    /// table) has arrived when the tracker is in sync, once its CRC checks when it is looking for
    /// sync; so a page whose header straddles two chunks is recognised in the second one, with a
    /// negative ``OggStart/offset``. Whatever the chunks, the same bytes give the same starts.
    public var starts: [OggStart] = []
    /// The header set that became complete in this chunk (the last one, if several did).
    public var newHeaders: OggHeaders?
    /// What went wrong, as sentences for the log.
    public var problems: [String] = []

    public init() {}
}

/// Follows an Ogg stream (RFC 3533) fed in chunks of any size, and says for each chunk where a
/// new listener may start and which header pages that listener needs first.
///
/// An Ogg stream can only be joined at a page, and a decoder needs its codec's header packets
/// (Vorbis: identification, comment, setup; Opus: OpusHead, OpusTags; …) before any audio. So a
/// listener may start
///
/// - on the first BOS ("beginning of stream") page of a chain: the headers follow in the stream;
/// - on an audio page (any later page) of a chain whose header set is complete, once it has been
///   sent that chain's header pages.
///
/// Header pages other than a chain's first BOS page are never starts. A chained stream (a new
/// BOS after audio pages, as radios do at each track) starts a new chain whose headers replace
/// the old ones (and its comment header, the title). Several BOS pages in a row are one
/// multiplexed chain: headers are collected for every serial, and a chain with a known codec is
/// joined on pages of that codec's serials.
///
/// Damaged pages (wrong CRC) and bytes between pages are skipped: the tracker looks for the next
/// capture pattern whose page checks, and says so in ``OggFeedResult/problems``. A pure value:
/// no I/O, no clock. It keeps at most one page less one byte of a page in progress
/// (``maxBufferedBytes``) and at most ``Limits/maxHeaderBytes`` of header pages (twice that with
/// the header packets being reassembled), examines every byte once (plus, when out of sync, one
/// CRC for each capture pattern found), and gives the same results whatever the chunks.
public struct OggStreamTracker: Sendable {
    /// Bounds on what the tracker keeps.
    public struct Limits: Sendable, Equatable {
        /// The most bytes of header pages a chain may have; a chain with more is dropped (no
        /// listener can start until the next chain). Default 1 MiB (Vorbis headers are 4–8 KiB,
        /// Opus under 1 KiB unless the comments carry cover art).
        public var maxHeaderBytes: Int

        public init(maxHeaderBytes: Int = 1 << 20) {
            precondition(maxHeaderBytes > 0, "OggStreamTracker.Limits.maxHeaderBytes must be positive")
            self.maxHeaderBytes = maxHeaderBytes
        }
    }

    /// The most bytes the tracker holds between two feeds: a page less one byte.
    public static let maxBufferedBytes = OggPage.maxLength - 1

    /// The limits this tracker was made with.
    public let limits: Limits
    /// The complete header set in force: the one audio pages are started with. `nil` before the
    /// first chain's headers are complete, while a new chain's headers are being collected, and
    /// after a chain was dropped.
    public private(set) var current: OggHeaders?
    /// How many bytes were fed so far.
    public private(set) var streamOffset = 0
    /// How many bytes of a page in progress (or of a possible page, when out of sync) are held.
    public var bufferedBytes: Int { self.pending.readableBytes }

    private enum Sync {
        /// The next page starts at `at`; once its header has arrived, `header` and `role` hold it.
        case inSync(at: Int, header: OggPage?, role: Role?)
        /// Looking for a capture pattern from `scanFrom`; bytes from `garbageFrom` were skipped.
        case searching(scanFrom: Int, garbageFrom: Int)
    }

    /// What a page is to the chain it belongs to, decided from the pages before it and its header.
    private enum Role {
        case chainStart
        case groupBOS
        case header
        case audio(OggHeaders)
        case ignored
        /// A page of a serial whose headers were never seen (reported once its CRC checks).
        case orphan
    }

    private struct LogicalStream {
        var serial: UInt32
        var codec: OggCodec
        /// All header packets, the first included; `nil`: FLAC with an unknown count.
        var packetsNeeded: Int?
        var packetsSeen = 0
        var complete = false
        /// The header packet being reassembled, when `inPacket`.
        var partial: [UInt8] = []
        var inPacket = false
        var comments: [OggHeaders.Comment] = []
        /// Why the header packets cannot be used, when they cannot.
        var broken: String?
        /// The sequence number of the stream's last header page.
        var lastSequence: UInt32?
    }

    private struct Group {
        var streams: [LogicalStream] = []
        /// A non-BOS page came: later BOS pages begin a new chain.
        var closed = false
        var pages = ByteBuffer()
        var allComplete: Bool { self.streams.allSatisfy(\.complete) }
        func index(of serial: UInt32) -> Int? { self.streams.firstIndex { $0.serial == serial } }
    }

    private enum Chain {
        /// No chain yet: waiting for a BOS page (pages of other serials are reported).
        case waiting
        /// The chain's header set was dropped (and that was reported): waiting for a BOS page.
        case dropped
        case building(Group)
        /// The headers are complete (in `current`).
        case complete
    }

    private var sync: Sync = .searching(scanFrom: 0, garbageFrom: 0)
    private var chain: Chain
    private var pending = ByteBuffer()
    /// Whether bytes before the first page are expected (a node that joins mid-stream).
    private let resuming: Bool
    private var everInSync = false
    /// The serial last reported as having pages but no headers (reported once until it changes).
    private var lastOrphanSerial: UInt32?

    /// A tracker for a stream fed from its first byte (a radio's stream: it starts on a page).
    public init(limits: Limits = Limits()) {
        self.limits = limits
        self.chain = .waiting
        self.resuming = false
    }

    /// A tracker for a node that joins a stream in the middle (a mirror): the first chunk may
    /// begin inside a page, and audio pages of `headers`' serials can be started on with those
    /// headers until a new chain begins. Without headers, no listener can start before the next
    /// chain.
    public init(resumingWith headers: OggHeaders?, limits: Limits = Limits()) {
        self.limits = limits
        self.current = headers
        self.chain = headers == nil ? .waiting : .complete
        self.resuming = true
    }

    /// Reads the next chunk of the stream (its readable bytes) and says where in it a listener may
    /// start, which header set became complete, and what went wrong.
    public mutating func feed(_ chunk: ByteBuffer) -> OggFeedResult {
        var result = OggFeedResult()
        let chunkStart = self.streamOffset
        self.streamOffset += chunk.readableBytes
        var buffer: ByteBuffer
        let owned: Bool
        if self.pending.readableBytes == 0 {
            buffer = chunk
            owned = false
        } else {
            buffer = self.pending
            self.pending = ByteBuffer()
            buffer.writeImmutableBuffer(chunk)
            owned = true
        }
        let base = self.streamOffset - buffer.readableBytes
        let keep = buffer.withUnsafeReadableBytes { bytes in
            self.run(bytes, base: base, chunkStart: chunkStart, &result)
        }
        let kept = self.streamOffset - keep
        if kept == 0 {
            self.pending = ByteBuffer()
        } else if owned, buffer.capacity <= 2 * OggPage.maxLength {
            buffer.moveReaderIndex(forwardBy: keep - base)
            if buffer.readerIndex >= OggPage.maxLength { buffer.discardReadBytes() }
            self.pending = buffer
        } else {
            // Copy what is kept: never hold on to the storage of a caller's (possibly large) chunk.
            var copy = ByteBuffer()
            copy.reserveCapacity(kept)
            if let rest = buffer.getSlice(at: buffer.readerIndex + keep - base, length: kept) { copy.writeImmutableBuffer(rest) }
            self.pending = copy
        }
        return result
    }

    /// Says that no more bytes will come (the stream ended, or a header set was fed on its own, as
    /// a parent sends one): a chain that is only BOS pages of codecs that need nothing more (an
    /// unknown codec's header set is its BOS page) is complete now, as its first non-BOS page
    /// would have made it. Bytes of a page still incomplete are dropped; bytes fed after this are
    /// searched for a page, as after lost sync.
    public mutating func finish() -> OggFeedResult {
        var result = OggFeedResult()
        if case .building(let group) = self.chain, !group.closed, group.allComplete {
            self.complete(group, &result)
        }
        self.pending = ByteBuffer()
        self.sync = .searching(scanFrom: self.streamOffset, garbageFrom: self.streamOffset)
        return result
    }

    /// Reads pages from `bytes` (stream offsets `base...`); returns the stream offset of the first
    /// byte to keep for the next feed.
    private mutating func run(_ bytes: UnsafeRawBufferPointer, base: Int, chunkStart: Int, _ result: inout OggFeedResult) -> Int {
        let end = base + bytes.count
        while true {
            switch self.sync {
            case .inSync(let at, var header, var role):
                guard at < end else { return at }
                let here = UnsafeRawBufferPointer(rebasing: bytes[(at - base)...])
                if header == nil {
                    switch OggPage.parseHeader(here, at: 0) {
                    case .needMore:
                        return at
                    case .invalid(let why):
                        result.problems.append("lost sync at stream byte \(at): \(why); looking for the next Ogg page")
                        self.sync = .searching(scanFrom: at + 1, garbageFrom: at)
                        continue
                    case .header(let page):
                        header = page
                        role = self.classify(page, at: at, chunkStart: chunkStart, &result)
                        self.sync = .inSync(at: at, header: page, role: role)
                    }
                }
                guard let page = header, let role else { return at }
                let length = page.length
                guard end - at >= length else { return at }
                let pageBytes = UnsafeRawBufferPointer(rebasing: here[0..<length])
                let computed = OggPage.crc(pageBytes)
                guard computed == page.checksum else {
                    let why = OggPage.Invalid.checksumMismatch(stored: page.checksum, computed: computed)
                    result.problems.append(
                        "the Ogg page at stream byte \(at) (serial \(page.serial), page \(page.sequence)) is damaged: \(why); skipped it, looking for the next page"
                    )
                    self.sync = .searching(scanFrom: at + 1, garbageFrom: at)
                    continue
                }
                self.process(page, pageBytes, role: role, &result)
                self.sync = .inSync(at: at + length, header: nil, role: nil)

            case .searching(let scanFrom, let garbageFrom):
                var i = scanFrom
                var found: Int?
                while end - i >= 4 {
                    let r = i - base
                    if bytes[r] == 0x4F, bytes[r + 1] == 0x67, bytes[r + 2] == 0x67, bytes[r + 3] == 0x53 {
                        found = i
                        break
                    }
                    i += 1
                }
                guard let candidate = found else {
                    let keep = max(end - 3, min(scanFrom, end))
                    self.sync = .searching(scanFrom: keep, garbageFrom: garbageFrom)
                    return keep
                }
                switch OggPage.parse(UnsafeRawBufferPointer(rebasing: bytes[(candidate - base)...]), at: 0) {
                case .needMore:
                    self.sync = .searching(scanFrom: candidate, garbageFrom: garbageFrom)
                    return candidate
                case .invalid:
                    self.sync = .searching(scanFrom: candidate + 1, garbageFrom: garbageFrom)
                case .page(let page, let length):
                    let skipped = candidate - garbageFrom
                    if skipped > 0 {
                        if self.everInSync {
                            result.problems.append(
                                "skipped \(skipped) bytes that are not Ogg pages (stream bytes \(garbageFrom) to \(candidate - 1)); back in sync at stream byte \(candidate)"
                            )
                        } else if !self.resuming {
                            result.problems.append("the stream starts with \(skipped) bytes that are not an Ogg page; its first page is at stream byte \(candidate)")
                        }
                    }
                    self.everInSync = true
                    let role = self.classify(page, at: candidate, chunkStart: chunkStart, &result)
                    let pageBytes = UnsafeRawBufferPointer(rebasing: bytes[(candidate - base)..<(candidate - base + length)])
                    self.process(page, pageBytes, role: role, &result)
                    self.sync = .inSync(at: candidate + length, header: nil, role: nil)
                }
            }
        }
    }

    /// Decides what `page` (which begins at stream offset `at`) is, from the pages before it, and
    /// records it as a start when it is one. Closes a BOS group at its first non-BOS page.
    private mutating func classify(_ page: OggPage, at: Int, chunkStart: Int, _ result: inout OggFeedResult) -> Role {
        let role: Role
        if page.isBeginOfStream {
            if case .building(let group) = self.chain, !group.closed, group.index(of: page.serial) == nil {
                role = .groupBOS
            } else {
                role = .chainStart
            }
        } else {
            if case .building(var group) = self.chain, !group.closed {
                group.closed = true
                self.chain = .building(group)
                if group.allComplete { self.complete(group, &result) }
            }
            switch self.chain {
            case .building(let group):
                role = group.index(of: page.serial) != nil ? .header : .ignored
            case .complete:
                if let headers = self.current, let audio = self.audioRole(page.serial, headers) {
                    role = audio
                } else {
                    role = .orphan
                }
            case .waiting:
                role = .orphan
            case .dropped:
                role = .ignored
            }
        }
        let start: OggStart?
        switch role {
        case .chainStart: start = OggStart(offset: at - chunkStart, streamOffset: at, headers: nil)
        case .audio(let headers): start = OggStart(offset: at - chunkStart, streamOffset: at, headers: headers)
        case .groupBOS, .header, .ignored, .orphan: start = nil
        }
        if let start {
            result.starts.append(start)
            if result.start == nil, start.offset >= 0 { result.start = start }
        }
        return role
    }

    /// `.audio` when a page of `serial` can be started on with `headers`: a serial of the chain,
    /// and of the main stream's codec family (pages of an unknown-codec stream, such as a
    /// skeleton, are not starts when the chain has a known codec).
    private func audioRole(_ serial: UInt32, _ headers: OggHeaders) -> Role? {
        guard headers.serials.contains(serial) else { return nil }
        if headers.codec != .unknown, let codec = self.codecs[serial], codec == .unknown { return .ignored }
        return .audio(headers)
    }

    /// The codec of every serial of the current chain (empty for a chain given at `init`).
    private var codecs: [UInt32: OggCodec] = [:]

    private mutating func orphan(_ serial: UInt32, _ result: inout OggFeedResult) {
        guard self.lastOrphanSerial != serial else { return }
        self.lastOrphanSerial = serial
        result.problems.append(
            "Ogg pages of serial \(serial) arrive without the header pages of their stream; no listener can start before the next chain (the next BOS page)"
        )
    }

    /// Takes a page whose CRC checked into the chain it belongs to.
    private mutating func process(_ page: OggPage, _ bytes: UnsafeRawBufferPointer, role: Role, _ result: inout OggFeedResult) {
        switch role {
        case .audio, .ignored:
            return
        case .orphan:
            self.orphan(page.serial, &result)
        case .chainStart:
            if case .building(let group) = self.chain {
                let missing = group.streams.filter { !$0.complete }.map { "\($0.serial) (\($0.codec))" }
                result.problems.append(
                    "a new Ogg chain (serial \(page.serial)) began before the header set of the last one was complete (still missing headers of serial \(missing.joined(separator: ", "))); dropped that set"
                )
            }
            self.current = nil
            self.codecs = [:]
            self.lastOrphanSerial = nil
            self.chain = .building(Group())
            self.addStream(page, bytes, &result)
        case .groupBOS:
            self.addStream(page, bytes, &result)
        case .header:
            guard case .building(var group) = self.chain, let index = group.index(of: page.serial) else { return }
            self.chain = .waiting  // while `group` is mutated here (no copy of its buffers)
            var stream = group.streams[index]
            if stream.complete {
                // A later page of a stream whose headers are done, while another one's are not.
                guard self.append(page, bytes, to: &group, &result) else { return }
            } else if stream.codec == .flac, stream.packetsNeeded == nil, !page.isContinued, page.bodyLength > 0,
                bytes[page.headerLength] == 0xFF
            {
                stream.complete = true  // the first audio frame: FLAC headers of unknown count are over
            } else {
                guard self.append(page, bytes, to: &group, &result) else { return }
                self.readHeaderPackets(page, bytes, &stream)
                if let broken = stream.broken {
                    self.drop("the header packets of serial \(stream.serial) (\(stream.codec)) are unusable: \(broken)", &result)
                    return
                }
            }
            group.streams[index] = stream
            if group.allComplete {
                self.complete(group, &result)
            } else {
                self.chain = .building(group)
            }
        }
    }

    /// Starts collecting the headers of the logical stream `page` begins.
    private mutating func addStream(_ page: OggPage, _ bytes: UnsafeRawBufferPointer, _ result: inout OggFeedResult) {
        guard case .building(var group) = self.chain else { return }
        self.chain = .waiting
        guard self.append(page, bytes, to: &group, &result) else { return }
        var stream = LogicalStream(serial: page.serial, codec: .unknown)
        if let first = page.packets.first, !page.isContinued {
            let packet = bytes[first.offset..<first.offset + first.length]
            stream.codec = OggCodec(firstPacket: packet)
            switch stream.codec {
            case .vorbis: stream.packetsNeeded = 3
            case .opus: stream.packetsNeeded = 2
            case .speex:
                let extra = packet.count >= 72 ? Self.le32(packet, at: 68) : 0  // extra_headers
                stream.packetsNeeded = 2 + min(extra, Int(Int32.max))
            case .flac:
                let count = packet.count >= 9 ? Int(packet[packet.startIndex + 7]) << 8 | Int(packet[packet.startIndex + 8]) : 0
                stream.packetsNeeded = count == 0 ? nil : 1 + count
            case .unknown: stream.packetsNeeded = 1
            }
        } else {
            stream.packetsNeeded = 1
        }
        if stream.codec == .unknown {
            stream.complete = true
        } else {
            self.readHeaderPackets(page, bytes, &stream)
            if let broken = stream.broken {
                self.drop("the header packets of serial \(stream.serial) (\(stream.codec)) are unusable: \(broken)", &result)
                return
            }
        }
        group.streams.append(stream)
        self.chain = .building(group)
    }

    /// Adds `page` to the group's header pages; drops the chain (and says so) when they would
    /// then be over the limit.
    private mutating func append(_ page: OggPage, _ bytes: UnsafeRawBufferPointer, to group: inout Group, _ result: inout OggFeedResult) -> Bool {
        guard group.pages.readableBytes + bytes.count <= self.limits.maxHeaderBytes else {
            self.drop(
                "the header pages of the Ogg chain with serial \(group.streams.first?.serial ?? page.serial) are over the limit of \(self.limits.maxHeaderBytes) bytes",
                &result
            )
            return false
        }
        group.pages.writeBytes(bytes)
        return true
    }

    /// Gives up the chain whose headers are being collected: no listener can start before the
    /// next one.
    private mutating func drop(_ why: String, _ result: inout OggFeedResult) {
        result.problems.append("\(why); dropped the header set, no listener can start before the next chain")
        self.chain = .dropped
        self.current = nil
    }

    /// Reassembles the header packets on `page` (a page of `stream` already counted as a header
    /// page), reads the comments, and marks the stream complete after its last header packet.
    private func readHeaderPackets(_ page: OggPage, _ bytes: UnsafeRawBufferPointer, _ stream: inout LogicalStream) {
        if let last = stream.lastSequence, page.sequence != last &+ 1 {
            stream.broken = "header page \(last &+ 1) is missing (page \(page.sequence) came after page \(last))"
            return
        }
        stream.lastSequence = page.sequence
        for (n, packet) in page.packets.enumerated() {
            guard !stream.complete, stream.broken == nil else { return }
            let piece = bytes[packet.offset..<packet.offset + packet.length]
            if n == 0, page.isContinued {
                guard stream.inPacket else {  // the rest of a packet whose beginning was lost
                    stream.broken = "header packet \(stream.packetsSeen + 1) lost its beginning (page \(page.sequence) continues a packet never seen)"
                    return
                }
            } else {
                stream.partial.removeAll(keepingCapacity: true)  // a packet left unfinished is lost
                stream.inPacket = true
            }
            stream.partial.append(contentsOf: piece)
            guard packet.isComplete else { return }
            stream.inPacket = false
            self.headerPacket(stream.partial, &stream)
            stream.partial.removeAll()
        }
    }

    /// Counts one whole header packet of `stream` (the first one included) and reads its comments.
    private func headerPacket(_ packet: [UInt8], _ stream: inout LogicalStream) {
        let index = stream.packetsSeen
        switch stream.codec {
        case .vorbis:
            let vorbis: [UInt8] = [0x76, 0x6F, 0x72, 0x62, 0x69, 0x73]
            if index >= 1, packet.first != UInt8(2 * index + 1) || !packet.dropFirst().starts(with: vorbis) {
                stream.broken = "header packet \(index + 1) is not the Vorbis \(index == 1 ? "comment" : "setup") header"
                return
            }
            if index == 1 { stream.comments = OggHeaders.comments(vorbisCommentBlock: packet.dropFirst(7)) }
        case .opus:
            if index == 1 {
                guard packet.starts(with: Array("OpusTags".utf8)) else {
                    stream.broken = "header packet 2 is not OpusTags"
                    return
                }
                stream.comments = OggHeaders.comments(vorbisCommentBlock: packet.dropFirst(8))
            }
        case .speex:
            if index == 1 { stream.comments = OggHeaders.comments(vorbisCommentBlock: packet) }
        case .flac:
            if index >= 1, let type = packet.first {
                if type == 0xFF {  // an audio frame: the header packets are over
                    stream.complete = true
                    return
                }
                if type & 0x7F == 4 { stream.comments = OggHeaders.comments(vorbisCommentBlock: packet.dropFirst(4)) }
                if stream.packetsNeeded == nil, type & 0x80 != 0 {  // the last metadata block
                    stream.packetsSeen += 1
                    stream.complete = true
                    return
                }
            }
        case .unknown:
            break
        }
        stream.packetsSeen += 1
        if let needed = stream.packetsNeeded, stream.packetsSeen >= needed { stream.complete = true }
    }

    /// The group's headers are complete: they are now in force.
    private mutating func complete(_ group: Group, _ result: inout OggFeedResult) {
        let main = group.streams.first { $0.codec != .unknown } ?? group.streams.first
        let headers = OggHeaders(
            pages: group.pages,
            codec: main?.codec ?? .unknown,
            serial: main?.serial ?? 0,
            serials: group.streams.map(\.serial),
            title: OggHeaders.title(from: main?.comments ?? []),
            comments: main?.comments ?? []
        )
        self.codecs = Dictionary(group.streams.map { ($0.serial, $0.codec) }, uniquingKeysWith: { a, _ in a })
        self.current = headers
        self.chain = .complete
        result.newHeaders = headers
    }

    private static func le32(_ bytes: Slice<UnsafeRawBufferPointer>, at offset: Int) -> Int {
        let i = bytes.startIndex + offset
        return Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
    }
}
