import CastyFuzzDrivers
import CastyMedia
import CastyMediaTestSupport
import NIOCore
import Testing

@Suite struct OggStreamTrackerTests {
    /// A stream under construction: its bytes and where each page starts.
    struct Stream {
        var bytes: [UInt8] = []

        /// Appends `pages`; returns where each one starts.
        @discardableResult
        mutating func add(_ pages: [[UInt8]]) -> [Int] {
            pages.map { page in
                defer { self.bytes += page }
                return self.bytes.count
            }
        }
    }

    /// A chain's pages: its header pages and its audio pages.
    struct Chain {
        var headerPages: [[UInt8]]
        var audioPages: [[UInt8]]
        var headerBytes: [UInt8] { self.headerPages.flatMap { $0 } }
    }

    /// A chain as encoders write one: the BOS page holds the first header packet alone, the other
    /// header packets follow (`segmentsPerPage` lacing values a page: small values make them span
    /// pages), and audio begins on a fresh page.
    static func chain(
        serial: UInt32, _ headers: [[UInt8]], audioPages: Int, segmentsPerPage: Int = 255, audio: [[UInt8]]? = nil
    ) -> Chain {
        var writer = OggTestStreams.Writer(serial: serial)
        let headerPages = writer.pages([headers[0]], first: .beginOfStream) + writer.pages(Array(headers.dropFirst()), segmentsPerPage: segmentsPerPage)
        let packets = audio ?? OggTestStreams.audioPackets(audioPages * 4, size: 300, seed: UInt8(truncatingIfNeeded: serial))
        let audioPages = writer.pages(packets, last: .endOfStream, segmentsPerPage: max(1, packets.count / max(audioPages, 1) * 2))
        return Chain(headerPages: headerPages, audioPages: audioPages)
    }

    static let vorbisComments = [("TITLE", "Song"), ("ARTIST", "Band"), ("encoder", "Lavc59.37.100 libvorbis")]

    /// What feeding a whole stream gave, chunk by chunk.
    struct Fed {
        var results: [OggFeedResult] = []
        /// Every start, with its stream offset and headers (its chunk-relative offset set to 0).
        var starts: [OggStart] = []
        var problems: [String] = []
        var newHeaders: [OggHeaders] = []
        var current: OggHeaders?
    }

    /// Feeds `bytes` cut into `sizes` (the rest in one last chunk) and checks every chunk's result:
    /// offsets within the chunk, `start` the first start of the chunk, bounded buffering.
    static func feed(_ bytes: [UInt8], sizes: [Int] = [], into tracker: OggStreamTracker = OggStreamTracker()) -> Fed {
        var tracker = tracker
        var fed = Fed()
        var offset = 0
        var sizes = sizes[...]
        while offset < bytes.count {
            let size = min(sizes.popFirst() ?? bytes.count, bytes.count - offset)
            var chunk = ByteBuffer()
            chunk.writeBytes([0xEE, 0xEE])  // the chunk's readerIndex is not 0
            chunk.writeBytes(bytes[offset..<offset + size])
            chunk.moveReaderIndex(forwardBy: 2)
            let result = tracker.feed(chunk)
            for start in result.starts {
                #expect(start.offset < size, "a start after the chunk's end")
                #expect(start.streamOffset == offset + start.offset)
            }
            #expect(result.start == result.starts.first { $0.offset >= 0 })
            #expect(tracker.bufferedBytes <= OggStreamTracker.maxBufferedBytes)
            #expect(tracker.streamOffset == offset + size)
            fed.results.append(result)
            fed.starts += result.starts.map { OggStart(offset: 0, streamOffset: $0.streamOffset, headers: $0.headers) }
            fed.problems += result.problems
            if let headers = result.newHeaders { fed.newHeaders.append(headers) }
            offset += size
        }
        fed.current = tracker.current
        return fed
    }

    /// Chunk sizes from 1 to `max` drawn from `seed`.
    static func randomSizes(_ count: Int, seed: UInt64, max: Int = 700) -> [Int] {
        var random = SplitMix64(seed: seed)
        var sizes: [Int] = []
        var total = 0
        while total < count {
            let size = Int.random(in: 1...max, using: &random)
            sizes.append(size)
            total += size
        }
        return sizes
    }

    @Test func startsOnAudioPagesGetTheHeaderPagesAndTheBOSPageNone() throws {
        let chain = Self.chain(serial: 0x1234, OggTestStreams.vorbisHeaders(Self.vorbisComments), audioPages: 5)
        var stream = Stream()
        stream.add(chain.headerPages)
        let audio = stream.add(chain.audioPages)
        #expect(chain.headerPages.count == 2)  // the BOS page, then comment and setup (3 KB) on one page

        let fed = Self.feed(stream.bytes)
        let headers = try #require(fed.current)
        #expect(headers.codec == .vorbis)
        #expect(headers.serial == 0x1234 && headers.serials == [0x1234])
        #expect(headers.pages == ByteBuffer(bytes: chain.headerBytes))
        #expect(headers.title == "Band - Song")
        #expect(headers.comments.map(\.key) == ["TITLE", "ARTIST", "encoder"])
        #expect(fed.newHeaders == [headers])
        #expect(fed.problems == [])
        #expect(fed.starts == [OggStart(offset: 0, streamOffset: 0, headers: nil)] + audio.map { OggStart(offset: 0, streamOffset: $0, headers: headers) })
        #expect(fed.results[0].start == OggStart(offset: 0, streamOffset: 0, headers: nil))

        // Fed page by page, each audio page is its chunk's start, at offset 0.
        let pages = Self.feed(stream.bytes, sizes: (chain.headerPages + chain.audioPages).map(\.count))
        #expect(pages.results.map { $0.start?.headers == nil } == [true, true] + audio.map { _ in false })
        #expect(pages.results.map { $0.start?.offset } == [0, nil] + audio.map { _ in 0 })
        #expect(pages.results.map { $0.newHeaders != nil } == [false, true] + audio.map { _ in false })
    }

    @Test func aPageStartsInTheChunkThatHoldsItsFirstByte() throws {
        let chain = Self.chain(serial: 5, OggTestStreams.opusHeaders([("TITLE", "Only")]), audioPages: 3)
        var stream = Stream()
        stream.add(chain.headerPages)
        let audio = stream.add(chain.audioPages)
        // The first chunk ends just past the header of the second audio page, the second chunk
        // holds the rest.
        let cut = audio[1] + 27 + Int(chain.audioPages[1][26]) + 1
        let fed = Self.feed(stream.bytes, sizes: [cut])
        let headers = try #require(fed.current)
        #expect(headers.title == "Only" && headers.codec == .opus)
        #expect(fed.results[0].starts.map(\.streamOffset) == [0, audio[0], audio[1]])
        #expect(fed.results[1].starts.map(\.streamOffset) == [audio[2]])
        #expect(fed.results[1].start?.offset == audio[2] - cut)
        // Cut inside the page's header, the page is recognised in the next chunk: a start before
        // that chunk (negative offset), and not the chunk's own start.
        let early = Self.feed(stream.bytes, sizes: [audio[1] + 10])
        #expect(early.results[1].starts.first == OggStart(offset: -10, streamOffset: audio[1], headers: headers))
        #expect(early.results[1].start?.streamOffset == audio[2])
        #expect(early.starts == fed.starts)
    }

    @Test func chainedStreamsReplaceTheHeadersAndTheTitle() throws {
        let vorbis = Self.chain(serial: 1, OggTestStreams.vorbisHeaders(Self.vorbisComments), audioPages: 3)
        let opus = Self.chain(serial: 2, OggTestStreams.opusHeaders([("artist", "Other"), ("title", "Tune")]), audioPages: 3)
        let flac = Self.chain(
            serial: 3, OggTestStreams.flacHeaders([("TITLE", "Lossless")]), audioPages: 2,
            audio: (0..<8).map { n in [0xFF, 0xF8] + OggTestStreams.audioPackets(1, size: 400, seed: UInt8(n))[0] }
        )
        var stream = Stream()
        stream.add(vorbis.headerPages)
        let vorbisAudio = stream.add(vorbis.audioPages)
        let opusStart = stream.bytes.count
        stream.add(opus.headerPages)
        let opusAudio = stream.add(opus.audioPages)
        let flacStart = stream.bytes.count
        stream.add(flac.headerPages)
        let flacAudio = stream.add(flac.audioPages)

        let fed = Self.feed(stream.bytes, sizes: [opusStart, flacStart - opusStart])
        #expect(fed.problems == [])
        #expect(fed.newHeaders.map(\.codec) == [.vorbis, .opus, .flac])
        #expect(fed.newHeaders.map(\.title) == ["Band - Song", "Other - Tune", "Lossless"])
        #expect(fed.newHeaders.map(\.serial) == [1, 2, 3])
        #expect(fed.newHeaders.map(\.pages) == [vorbis, opus, flac].map { ByteBuffer(bytes: $0.headerBytes) })
        let (v, o, f) = (fed.newHeaders[0], fed.newHeaders[1], fed.newHeaders[2])
        #expect(
            fed.starts
                == [OggStart(offset: 0, streamOffset: 0, headers: nil)] + vorbisAudio.map { OggStart(offset: 0, streamOffset: $0, headers: v) }
                + [OggStart(offset: 0, streamOffset: opusStart, headers: nil)] + opusAudio.map { OggStart(offset: 0, streamOffset: $0, headers: o) }
                + [OggStart(offset: 0, streamOffset: flacStart, headers: nil)] + flacAudio.map { OggStart(offset: 0, streamOffset: $0, headers: f) }
        )
        #expect(fed.current == f)
    }

    @Test func aCommentPacketSpanningPagesIsReassembled() throws {
        // OpusTags of about 1.2 KB over 3 pages of 2 lacing values each.
        let comments = [("TITLE", String(repeating: "t", count: 700)), ("ARTIST", "Über")]
        let chain = Self.chain(serial: 77, OggTestStreams.opusHeaders(comments, padding: 300), audioPages: 2, segmentsPerPage: 2)
        #expect(chain.headerPages.count == 4)
        var stream = Stream()
        stream.add(chain.headerPages)
        let audio = stream.add(chain.audioPages)
        for sizes in [[], [1, 1, 1], Self.randomSizes(stream.bytes.count, seed: 3, max: 50)] {
            let fed = Self.feed(stream.bytes, sizes: sizes)
            let headers = try #require(fed.current)
            #expect(headers.title == "Über - " + String(repeating: "t", count: 700))
            #expect(headers.pages.readableBytes == chain.headerBytes.count)
            #expect(fed.starts.map(\.streamOffset) == [0] + audio)
        }
    }

    @Test func aDamagedPageIsSkippedAndTheTrackerResyncs() throws {
        let chain = Self.chain(serial: 9, OggTestStreams.vorbisHeaders(Self.vorbisComments), audioPages: 4)
        var stream = Stream()
        stream.add(chain.headerPages)
        let audio = stream.add(chain.audioPages)
        stream.bytes[audio[1] + 100] ^= 0x40  // in the body of the second audio page
        let fed = Self.feed(stream.bytes)
        #expect(fed.problems.count == 2, "\(fed.problems)")
        #expect(fed.problems.first?.hasPrefix("the Ogg page at stream byte \(audio[1]) (serial 9, page 3) is damaged: CRC mismatch") == true)
        #expect(fed.problems.last == "skipped \(audio[2] - audio[1]) bytes that are not Ogg pages (stream bytes \(audio[1]) to \(audio[2] - 1)); back in sync at stream byte \(audio[2])")
        // The damaged page was offered as a start when its header arrived, before its CRC could be
        // checked; the pages after it are starts again.
        #expect(fed.starts.map(\.streamOffset) == [0] + audio)
        #expect(fed.current?.title == "Band - Song")

        // A damaged header page: the header set is incomplete until the next chain.
        var bad = Stream()
        bad.add(chain.headerPages)
        bad.bytes[chain.headerPages[0].count + 400] ^= 0x01  // the page with the comment and setup headers
        let badAudio = bad.add(chain.audioPages)
        let next = Self.chain(serial: 10, OggTestStreams.opusHeaders([("TITLE", "Next")]), audioPages: 1)
        let nextStart = bad.bytes.count
        bad.add(next.headerPages)
        let nextAudio = bad.add(next.audioPages)
        let badFed = Self.feed(bad.bytes)
        #expect(badFed.starts.map(\.streamOffset) == [0, nextStart] + nextAudio)
        #expect(badFed.problems.contains { $0.contains("is damaged") })
        #expect(badFed.problems.count == 3)
        #expect(badFed.problems[1] == "skipped \(chain.headerPages[1].count) bytes that are not Ogg pages (stream bytes \(chain.headerPages[0].count) to \(badAudio[0] - 1)); back in sync at stream byte \(badAudio[0])")
        #expect(badFed.problems[2] == "the header packets of serial 9 (vorbis) are unusable: header page 1 is missing (page 2 came after page 0); dropped the header set, no listener can start before the next chain")
        #expect(badFed.current?.title == "Next")

        // A header page lost in between: the setup header's continuation is not taken for it.
        var lost = Stream()
        var writer = OggTestStreams.Writer(serial: 11)
        let headers = OggTestStreams.vorbisHeaders(Self.vorbisComments)
        let pages = writer.pages([headers[0]], first: .beginOfStream) + writer.pages(Array(headers.dropFirst()), segmentsPerPage: 4)
        #expect(pages.count == 5)
        lost.add(pages.enumerated().filter { $0.offset != 2 }.map(\.element))
        lost.add(writer.pages(OggTestStreams.audioPackets(4, size: 100)))
        let lostFed = Self.feed(lost.bytes)
        #expect(lostFed.problems == ["the header packets of serial 11 (vorbis) are unusable: header page 2 is missing (page 3 came after page 1); dropped the header set, no listener can start before the next chain"])
        #expect(lostFed.starts.map(\.streamOffset) == [0])
        #expect(lostFed.current == nil)
    }

    @Test func garbageBetweenPagesIsSkippedAndReported() throws {
        let chain = Self.chain(serial: 4, OggTestStreams.opusHeaders([("TITLE", "G")]), audioPages: 3)
        var stream = Stream()
        stream.add(chain.headerPages)
        let first = stream.add([chain.audioPages[0]])
        let garbageAt = stream.bytes.count
        stream.bytes += Array("junk OggS is not enough".utf8) + [UInt8](repeating: 0x4F, count: 77)
        let rest = stream.add(Array(chain.audioPages.dropFirst()))
        let fed = Self.feed(stream.bytes)
        #expect(
            fed.problems == [
                "lost sync at stream byte \(garbageAt): no Ogg capture pattern (\"OggS\") here; looking for the next Ogg page",
                "skipped 100 bytes that are not Ogg pages (stream bytes \(garbageAt) to \(garbageAt + 99)); back in sync at stream byte \(rest[0])",
            ]
        )
        #expect(fed.starts.map(\.streamOffset) == [0] + first + rest)
        // Bytes before the first page of a stream fed from its start are reported too.
        let junk = Self.feed([1, 2, 3] + stream.bytes)
        #expect(junk.problems.first == "the stream starts with 3 bytes that are not an Ogg page; its first page is at stream byte 3")
    }

    @Test func everySplitGivesTheSameResults() {
        let vorbis = Self.chain(serial: 1, OggTestStreams.vorbisHeaders(Self.vorbisComments, setupBytes: 1500), audioPages: 3)
        let opus = Self.chain(serial: 2, OggTestStreams.opusHeaders([("TITLE", "Split")], padding: 500), audioPages: 3, segmentsPerPage: 1)
        var stream = Stream()
        stream.add(vorbis.headerPages)
        let vorbisAudio = stream.add(vorbis.audioPages)
        stream.bytes += [0x4F, 0x67, 0x67, 0x53, 0x00, 0x00] + [UInt8](repeating: 0x21, count: 40)  // garbage with a capture pattern
        stream.add(opus.headerPages)
        stream.add(opus.audioPages)
        stream.bytes[vorbisAudio[1] + 60] ^= 0x01  // a damaged page

        let whole = Self.feed(stream.bytes)
        #expect(whole.problems.count == 4, "\(whole.problems)")  // damaged page, resync, lost sync, resync
        #expect(whole.starts.count == 1 + 3 + 1 + 3)
        func same(_ fed: Fed, _ what: String) {
            #expect(fed.starts == whole.starts, "starts differ when \(what)")
            #expect(fed.problems == whole.problems, "problems differ when \(what)")
            #expect(fed.current == whole.current, "headers differ when \(what)")
            #expect(fed.newHeaders.last == whole.newHeaders.last)
        }
        same(Self.feed(stream.bytes, sizes: [Int](repeating: 1, count: stream.bytes.count)), "fed byte by byte")
        for seed in 0..<20 as Range<UInt64> {
            same(Self.feed(stream.bytes, sizes: Self.randomSizes(stream.bytes.count, seed: seed, max: seed < 10 ? 40 : 5000)), "cut by seed \(seed)")
        }
        // Every two-chunk split around the first pages (the headers and their boundaries).
        for cut in 1..<min(stream.bytes.count, 400) {
            same(Self.feed(stream.bytes, sizes: [cut]), "cut at \(cut)")
        }
    }

    @Test func aMirrorResumesMidPageWithTheHeadersItWasGiven() throws {
        let chain = Self.chain(serial: 21, OggTestStreams.vorbisHeaders(Self.vorbisComments), audioPages: 4)
        var stream = Stream()
        stream.add(chain.headerPages)
        let audio = stream.add(chain.audioPages)
        let headers = try #require(Self.feed(stream.bytes).current)
        let joinAt = audio[1] + 33  // inside the second audio page
        let tail = Array(stream.bytes[joinAt...])

        let resumed = Self.feed(tail, sizes: [10, 500], into: OggStreamTracker(resumingWith: headers))
        #expect(resumed.problems == [])
        #expect(resumed.starts == audio[2...].map { OggStart(offset: 0, streamOffset: $0 - joinAt, headers: headers) })
        #expect(resumed.current == headers)

        // Without headers: no start, one problem, until the next chain.
        let next = Self.chain(serial: 22, OggTestStreams.opusHeaders([("TITLE", "After")]), audioPages: 2)
        var more = Stream()
        more.bytes = tail
        let nextStart = more.bytes.count
        more.add(next.headerPages)
        let nextAudio = more.add(next.audioPages)
        let blind = Self.feed(more.bytes, sizes: Self.randomSizes(more.bytes.count, seed: 7), into: OggStreamTracker(resumingWith: nil))
        #expect(blind.problems == ["Ogg pages of serial 21 arrive without the header pages of their stream; no listener can start before the next chain (the next BOS page)"])
        #expect(blind.starts.map(\.streamOffset) == [nextStart] + nextAudio)
        #expect(blind.current?.title == "After")
    }

    @Test func aHeaderSetOverTheLimitIsDropped() throws {
        let big = Self.chain(serial: 31, OggTestStreams.vorbisHeaders(Self.vorbisComments, setupBytes: 4000), audioPages: 2)
        let small = Self.chain(serial: 32, OggTestStreams.opusHeaders([("TITLE", "Small")]), audioPages: 2)
        var stream = Stream()
        stream.add(big.headerPages)
        stream.add(big.audioPages)
        let smallStart = stream.bytes.count
        stream.add(small.headerPages)
        let smallAudio = stream.add(small.audioPages)
        let limits = OggStreamTracker.Limits(maxHeaderBytes: 2000)
        for sizes in [[], Self.randomSizes(stream.bytes.count, seed: 11)] {
            let fed = Self.feed(stream.bytes, sizes: sizes, into: OggStreamTracker(limits: limits))
            #expect(
                fed.problems == [
                    "the header pages of the Ogg chain with serial 31 are over the limit of 2000 bytes; dropped the header set, no listener can start before the next chain"
                ]
            )
            #expect(fed.starts.map(\.streamOffset) == [0, smallStart] + smallAudio)
            #expect(fed.newHeaders.map(\.title) == ["Small"])
        }
        #expect(OggStreamTracker.Limits().maxHeaderBytes == 1 << 20)
    }

    @Test func aTruncatedHeaderSetIsReported() throws {
        let opus = Self.chain(serial: 42, OggTestStreams.opusHeaders([("TITLE", "Whole")]), audioPages: 2)
        // The vorbis BOS page and a page with only the comment header: the setup header never comes.
        var writer = OggTestStreams.Writer(serial: 41)
        let headers = OggTestStreams.vorbisHeaders(Self.vorbisComments)
        var stream = Stream()
        stream.add(writer.pages([headers[0]], first: .beginOfStream) + writer.pages([headers[1]]))
        let opusStart = stream.bytes.count
        stream.add(opus.headerPages)
        let opusAudio = stream.add(opus.audioPages)
        let fed = Self.feed(stream.bytes)
        #expect(
            fed.problems == [
                "a new Ogg chain (serial 42) began before the header set of the last one was complete (still missing headers of serial 41 (vorbis)); dropped that set"
            ]
        )
        #expect(fed.starts.map(\.streamOffset) == [0, opusStart] + opusAudio)
        #expect(fed.newHeaders.map(\.codec) == [.opus])
    }

    @Test func flacSpeexAndUnknownCodecs() throws {
        let frames = (0..<6).map { n in [0xFF, 0xF8] + OggTestStreams.audioPackets(1, size: 500, seed: UInt8(n))[0] }
        // FLAC announcing its header count, and FLAC with an unknown count (0) whose comment block
        // is flagged as the last metadata block.
        for count: UInt16 in [1, 0] {
            let flac = Self.chain(serial: 51, OggTestStreams.flacHeaders([("TITLE", "F")], count: count), audioPages: 3, audio: frames)
            var stream = Stream()
            stream.add(flac.headerPages)
            let audio = stream.add(flac.audioPages)
            let fed = Self.feed(stream.bytes)
            #expect(fed.current?.codec == .flac && fed.current?.title == "F")
            #expect(fed.current?.pages == ByteBuffer(bytes: flac.headerBytes))
            #expect(fed.starts.map(\.streamOffset) == [0] + audio, "count \(count)")
        }
        // Unknown count and no last-block flag: the headers end at the first audio frame, whose
        // page is therefore not a start (it was taken for a header page when its header came).
        var flacHeaders = OggTestStreams.flacHeaders([("TITLE", "F")], count: 0)
        flacHeaders[1][0] = 0x04
        let open = Self.chain(serial: 52, flacHeaders, audioPages: 3, audio: frames)
        var openStream = Stream()
        openStream.add(open.headerPages)
        let openAudio = openStream.add(open.audioPages)
        let openFed = Self.feed(openStream.bytes)
        #expect(openFed.current?.pages == ByteBuffer(bytes: open.headerBytes))
        #expect(openFed.starts.map(\.streamOffset) == [0] + openAudio.dropFirst())

        // Speex: 2 header packets and one extra header.
        let speex = Self.chain(serial: 53, OggTestStreams.speexHeaders([("artist", "Voice")], extra: 1), audioPages: 2)
        var speexStream = Stream()
        speexStream.add(speex.headerPages)
        let speexAudio = speexStream.add(speex.audioPages)
        let speexFed = Self.feed(speexStream.bytes)
        #expect(speexFed.current?.codec == .speex && speexFed.current?.title == "Voice")
        #expect(speexFed.current?.pages == ByteBuffer(bytes: speex.headerBytes))
        #expect(speexFed.starts.map(\.streamOffset) == [0] + speexAudio)

        // An unknown codec: the BOS page alone is the header set.
        var writer = OggTestStreams.Writer(serial: 54)
        var theora = Stream()
        let bos = writer.pages([[0x80] + Array("theora".utf8) + [3, 2, 1]], first: .beginOfStream)
        theora.add(bos)
        let pages = theora.add(writer.pages(OggTestStreams.audioPackets(4, size: 200), segmentsPerPage: 1))
        let theoraFed = Self.feed(theora.bytes, sizes: Self.randomSizes(theora.bytes.count, seed: 2, max: 30))
        let unknown = OggHeaders(pages: ByteBuffer(bytes: bos[0]), codec: .unknown, serial: 54)
        #expect(theoraFed.current == unknown)
        #expect(theoraFed.starts == [OggStart(offset: 0, streamOffset: 0, headers: nil)] + pages.map { OggStart(offset: 0, streamOffset: $0, headers: unknown) })
    }

    @Test func aHeaderSetFedOnItsOwnIsCompleteOnceFinished() throws {
        // As a mirror reads the header pages its parent sends: known codecs complete with their
        // last header packet, an unknown codec's set (its BOS page) once the tracker is finished.
        let opus = Self.chain(serial: 71, OggTestStreams.opusHeaders([("TITLE", "Set")]), audioPages: 1)
        var tracker = OggStreamTracker()
        #expect(tracker.feed(ByteBuffer(bytes: opus.headerBytes)).newHeaders?.title == "Set")
        #expect(tracker.finish().newHeaders == nil)
        #expect(tracker.current?.pages == ByteBuffer(bytes: opus.headerBytes))

        var writer = OggTestStreams.Writer(serial: 72)
        let bos = writer.pages([[0x80] + Array("theora".utf8)], first: .beginOfStream)[0]
        var unknown = OggStreamTracker()
        #expect(unknown.feed(ByteBuffer(bytes: bos + bos.prefix(10))).newHeaders == nil)
        #expect(unknown.current == nil)
        let finished = unknown.finish()
        #expect(finished.newHeaders == OggHeaders(pages: ByteBuffer(bytes: bos), codec: .unknown, serial: 72))
        #expect(unknown.current == finished.newHeaders)
        #expect(unknown.bufferedBytes == 0)
        // Fed again, it looks for the next page.
        let again = unknown.feed(ByteBuffer(bytes: [1, 2] + opus.headerBytes))
        #expect(again.starts == [OggStart(offset: 2, streamOffset: bos.count + 12, headers: nil)])
        #expect(again.newHeaders?.title == "Set")
        #expect(again.problems == ["skipped 2 bytes that are not Ogg pages (stream bytes \(bos.count + 10) to \(bos.count + 11)); back in sync at stream byte \(bos.count + 12)"])
    }

    @Test func aMultiplexedChainCollectsTheHeadersOfEverySerial() throws {
        var skeleton = OggTestStreams.Writer(serial: 60)
        var vorbis = OggTestStreams.Writer(serial: 61)
        let headers = OggTestStreams.vorbisHeaders(Self.vorbisComments)
        var stream = Stream()
        let headerPages =
            skeleton.pages([Array("fishead\0".utf8) + [UInt8](repeating: 0, count: 56)], first: .beginOfStream)
            + vorbis.pages([headers[0]], first: .beginOfStream)
            + skeleton.pages([Array("fisbone\0".utf8) + [UInt8](repeating: 1, count: 44)])
            + vorbis.pages(Array(headers.dropFirst()))
        stream.add(headerPages)
        let skeletonEOS = stream.add(skeleton.pages([[]], first: .endOfStream))
        let audio = stream.add(vorbis.pages(OggTestStreams.audioPackets(8, size: 300), segmentsPerPage: 2))
        let fed = Self.feed(stream.bytes)
        let current = try #require(fed.current)
        #expect(current.codec == .vorbis && current.serial == 61 && current.serials == [60, 61])
        #expect(current.title == "Band - Song")
        #expect(current.pages == ByteBuffer(bytes: headerPages.flatMap { $0 }))
        // Only the first BOS page and the vorbis audio pages are starts: not the second BOS page,
        // nor the skeleton's last page.
        #expect(fed.starts.map(\.streamOffset) == [0] + audio)
        #expect(skeletonEOS.count == 1 && fed.problems == [])
    }

    @Test func buffersAtMostOnePageWhateverItIsFed() {
        var tracker = OggStreamTracker()
        // Garbage: at most the 3 bytes that could begin a capture pattern are kept.
        for _ in 0..<50 {
            _ = tracker.feed(ByteBuffer(repeating: 0x4F, count: 4096))
            #expect(tracker.bufferedBytes <= 3)
        }
        // A header announcing the longest page, which never ends: kept until it could be whole.
        var header: [UInt8] = Array("OggS".utf8) + [0, 0] + [UInt8](repeating: 0, count: 20) + [255] + [UInt8](repeating: 255, count: 255)
        header.replaceSubrange(14..<18, with: [1, 0, 0, 0])
        _ = tracker.feed(ByteBuffer(bytes: header))
        for _ in 0..<20 {
            _ = tracker.feed(ByteBuffer(repeating: 0x20, count: 5000))
            #expect(tracker.bufferedBytes <= OggStreamTracker.maxBufferedBytes)
        }
        // A megabyte in one chunk with a page at its end: nothing of it is kept.
        let chain = Self.chain(serial: 1, OggTestStreams.opusHeaders([]), audioPages: 1)
        var big = ByteBuffer(repeating: 0x20, count: 1 << 20)
        big.writeBytes(chain.headerBytes)
        let result = tracker.feed(big)
        #expect(tracker.bufferedBytes == 0)
        #expect(result.starts.map(\.offset) == [1 << 20])
        #expect(result.problems.last?.hasPrefix("the stream starts with ") == true)
    }
}
