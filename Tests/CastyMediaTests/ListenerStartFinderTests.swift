import CastyMedia
import CastyMediaTestSupport
import NIOCore
import Testing

@Suite struct ListenerStartFinderTests {
    /// A 128 kbps 44.1 kHz MPEG-1 Layer III frame (417 bytes).
    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)

    @Test func mp3StartsOnTheFirstConfirmedFrame() {
        var finder = ListenerStartFinder(format: .mp3)
        let segment = ByteBuffer(bytes: [1, 2, 3] + Self.mp3Frame + Self.mp3Frame + Self.mp3Frame)
        #expect(finder.observe(segment).start == ListenerStart(offset: 3))
        #expect(finder.observe(ByteBuffer(repeating: 0x55, count: 2000)).start == nil)
        #expect(finder.currentHeaders == nil)
    }

    @Test func opaqueStreamsStartAnywhere() {
        var finder = ListenerStartFinder(format: .opaque)
        #expect(finder.observe(ByteBuffer(repeating: 1, count: 100)).start == ListenerStart(offset: 0))
    }

    /// A chain's pages: the headers of `title`, then audio pages.
    static func chain(serial: UInt32, title: String, audioPages: Int) -> (headers: [UInt8], audio: [[UInt8]]) {
        var writer = OggTestStreams.Writer(serial: serial)
        let headerPackets = OggTestStreams.vorbisHeaders([("TITLE", title), ("ARTIST", "Casty")])
        let bos = writer.pages([headerPackets[0]], first: .beginOfStream)
        let rest = writer.pages(Array(headerPackets[1...]))
        let audio = (0..<audioPages).map { i in writer.pages([[UInt8](repeating: UInt8(i), count: 3000)]).flatMap { $0 } }
        return ((bos + rest).flatMap { $0 }, audio)
    }

    @Test func oggAudioPagesStartAfterTheChainsHeaderPages() throws {
        let first = Self.chain(serial: 7, title: "One", audioPages: 3)
        var finder = ListenerStartFinder(format: .ogg)
        // The first segment holds the headers and begins a chain: a start at 0, with no prefix.
        let opening = finder.observe(ByteBuffer(bytes: first.headers))
        #expect(opening.start == ListenerStart(offset: 0, prefix: nil))
        #expect(opening.newHeaders?.title == "Casty - One")
        #expect(finder.oggTitle == "Casty - One")
        // A segment that begins 10 bytes before an audio page: a start there, with the headers first.
        let segment = ByteBuffer(bytes: Array(first.audio[0].suffix(10)) + first.audio[1])
        _ = finder.observe(ByteBuffer(bytes: first.audio[0].dropLast(10)))
        let observed = finder.observe(segment)
        let start = try #require(observed.start)
        #expect(start.offset == 10)
        #expect(start.prefix.map { Array($0.readableBytesView) } == first.headers)
        #expect(observed.headersBefore?.title == "Casty - One")
    }

    @Test func aChainedStreamReplacesTheHeaders() throws {
        let first = Self.chain(serial: 1, title: "One", audioPages: 2)
        let second = Self.chain(serial: 2, title: "Two", audioPages: 2)
        var finder = ListenerStartFinder(format: .ogg)
        _ = finder.observe(ByteBuffer(bytes: first.headers + first.audio.flatMap { $0 }))
        let change = finder.observe(ByteBuffer(bytes: second.headers))
        #expect(change.start == ListenerStart(offset: 0, prefix: nil))
        #expect(change.newHeaders?.title == "Casty - Two")
        let later = try #require(finder.observe(ByteBuffer(bytes: second.audio[0])).start)
        #expect(later.prefix.map { Array($0.readableBytesView) } == second.headers)
    }

    @Test func aMirrorResumesWithItsParentsHeaderPagesMidPage() throws {
        let chain = Self.chain(serial: 9, title: "Mid", audioPages: 3)
        let headers = try #require(OggHeaders.parse(pages: ByteBuffer(bytes: chain.headers)))
        #expect(headers.title == "Casty - Mid")
        var finder = ListenerStartFinder(format: .ogg, resumingWith: headers)
        // The mirror's first segment begins inside an audio page.
        let observed = finder.observe(ByteBuffer(bytes: Array(chain.audio[0].suffix(100)) + chain.audio[1]))
        let start = try #require(observed.start)
        #expect(start.offset == 100)
        #expect(start.prefix.map { Array($0.readableBytesView) } == chain.headers)
        // Without the parent's headers, no start until the next chain.
        var blind = ListenerStartFinder(format: .ogg, resumingWith: nil)
        #expect(blind.observe(ByteBuffer(bytes: chain.audio[1] + chain.audio[2])).start == nil)
        #expect(OggHeaders.parse(pages: ByteBuffer(bytes: chain.audio[1])) == nil)
    }

    @Test func aChainIsStartedOnItsFirstPageOnlyWhenItsHeadersCompleteInTheSameSegment() throws {
        let chain = Self.chain(serial: 3, title: "Split", audioPages: 2)
        var finder = ListenerStartFinder(format: .ogg)
        // The segment ends inside the header pages: its BOS page is no start (the headers may
        // turn out broken); the next segment's first audio page is, with the headers first.
        #expect(finder.observe(ByteBuffer(bytes: Array(chain.headers.prefix(100)))).start == nil)
        let next = finder.observe(ByteBuffer(bytes: Array(chain.headers.dropFirst(100)) + chain.audio[0]))
        let start = try #require(next.start)
        #expect(start.offset == chain.headers.count - 100)
        #expect(start.prefix.map { Array($0.readableBytesView) } == chain.headers)
    }

    @Test func aStreamWithoutAPlaceToStartIsReportedOnce() {
        var finder = ListenerStartFinder(format: .mp3)
        let noise = ByteBuffer(repeating: 0x42, count: 16_000)
        let problems = (0..<20).flatMap { _ in finder.observe(noise).problems }
        #expect(problems.count == 1)
        #expect(problems.first?.contains("is the stream really MP3?") == true)
        // Frames again: the count starts over.
        #expect(finder.observe(ByteBuffer(bytes: Self.mp3Frame + Self.mp3Frame)).start != nil)
    }
}
