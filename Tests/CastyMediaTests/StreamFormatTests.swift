import CastyMedia
import CastyMediaTestSupport
import Testing

@Suite struct StreamFormatTests {
    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + [UInt8](repeating: 0x55, count: 413)
    static let aacFrame = ADTSFrameSyncTests.frame(length: 371)
    static var oggPages: [UInt8] {
        var writer = OggTestStreams.Writer(serial: 99)
        let headers = OggTestStreams.opusHeaders([("TITLE", "x")])
        return (writer.pages([headers[0]], first: .beginOfStream) + writer.pages([headers[1]])).flatMap { $0 }
    }

    @Test func namesTheFormatOfAContentType() {
        for type in ["audio/mpeg", "audio/mp3", "audio/x-mpeg", "audio/mpeg3", "AUDIO/MPEG", " audio/mpeg ; charset=UTF-8", "audio/mpeg;"] {
            #expect(StreamFormat(contentType: type) == .mp3, "\(type)")
        }
        for type in ["audio/aac", "audio/aacp", "audio/x-aac", "audio/aac+adts", "audio/AACP; rate=44100"] {
            #expect(StreamFormat(contentType: type) == .aac, "\(type)")
        }
        for type in ["audio/ogg", "application/ogg", "audio/x-ogg", "audio/opus", "audio/vorbis", "audio/ogg; codecs=opus", "audio/x-flac+ogg", "Application/Ogg"] {
            #expect(StreamFormat(contentType: type) == .ogg, "\(type)")
        }
        for type in ["audio/flac", "audio/mp4a-latm", "audio/mp4", "audio/webm", "application/octet-stream", "text/html", "", ";", "audio"] {
            #expect(StreamFormat(contentType: type) == .opaque, "\(type)")
        }
        #expect(StreamFormat(contentType: nil) == .opaque)
        #expect(StreamFormat.allCases == [.mp3, .aac, .ogg, .opaque])
        #expect(StreamFormat(rawValue: "ogg") == .ogg)
    }

    @Test func sniffsTheFirstBytes() {
        let mp3 = Self.mp3Frame + Self.mp3Frame + Self.mp3Frame
        let aac = Self.aacFrame + Self.aacFrame + Self.aacFrame
        #expect(StreamFormat.sniff(mp3) == .mp3)
        #expect(StreamFormat.sniff([0x01, 0x02] + mp3) == .mp3)
        #expect(StreamFormat.sniff(aac) == .aac)
        #expect(StreamFormat.sniff([0x01, 0x02, 0x03] + aac) == .aac)
        #expect(StreamFormat.sniff(Self.oggPages) == .ogg)
        #expect(StreamFormat.sniff(Array(Self.oggPages.dropFirst(3))) == .ogg)  // the second page is whole
        // An ID3v2 tag (10 bytes of header, a syncsafe size) before the first frame, even one
        // whose body looks like frames.
        let tagBody = Self.aacFrame + Self.aacFrame + [0, 0, 0]
        let size = tagBody.count
        let tag: [UInt8] = Array("ID3".utf8) + [4, 0, 0, UInt8(size >> 21 & 0x7F), UInt8(size >> 14 & 0x7F), UInt8(size >> 7 & 0x7F), UInt8(size & 0x7F)] + tagBody
        #expect(StreamFormat.sniff(tag + mp3) == .mp3)
        #expect(StreamFormat.sniff(tag + Self.mp3Frame.prefix(100)) == nil)  // the tag's end, then too little
        #expect(StreamFormat.sniff(tag.prefix(200)) == nil)  // still inside the tag
        // Undecided: too few bytes, or nothing recognisable.
        #expect(StreamFormat.sniff([UInt8]()) == nil)
        #expect(StreamFormat.sniff(Self.mp3Frame) == nil)
        #expect(StreamFormat.sniff(Self.oggPages.prefix(40)) == nil)
        #expect(StreamFormat.sniff([UInt8](repeating: 0x20, count: 5000)) == nil)
        #expect(StreamFormat.sniff(Array("<html><body>Not found</body></html>".utf8)) == nil)
    }

    @Test func findsWhereAListenerMayStart() {
        let mp3 = [0x00, 0x01] + Self.mp3Frame + Self.mp3Frame
        #expect(StreamFormat.mp3.startOffset(in: mp3) == 2)
        #expect(StreamFormat.mp3.startOffset(in: mp3[1...]) == 1)
        #expect(StreamFormat.aac.startOffset(in: [0x07] + Self.aacFrame + Self.aacFrame) == 1)
        #expect(StreamFormat.opaque.startOffset(in: [0x07, 0x08]) == 0)
        #expect(StreamFormat.opaque.startOffset(in: [UInt8]()) == 0)
        let ogg = Self.oggPages
        let firstPage = 27 + 1 + 19
        #expect(StreamFormat.ogg.startOffset(in: ogg) == 0)
        #expect(StreamFormat.ogg.startOffset(in: ogg[1...]) == firstPage - 1)
        #expect(StreamFormat.ogg.startOffset(in: Array("xxOggS".utf8) + ogg) == 6)  // a bare capture pattern is not a page
        var damaged = ogg
        damaged[30] ^= 0xFF
        #expect(StreamFormat.ogg.startOffset(in: damaged) == firstPage)
        #expect(StreamFormat.ogg.startOffset(in: ogg.prefix(firstPage - 1)) == nil)
        #expect(StreamFormat.mp3.startOffset(in: ogg) == nil)
    }

    @Test func checksTheContentTypeAgainstTheBytes() {
        let mp3 = Self.mp3Frame + Self.mp3Frame + Self.mp3Frame
        let aac = Self.aacFrame + Self.aacFrame + Self.aacFrame
        let ogg = Self.oggPages

        let agree = StreamFormat.Check(contentType: "audio/mpeg", firstBytes: mp3)
        #expect(agree.format == .mp3 && agree.declared == .mp3 && agree.sniffed == .mp3 && agree.mismatch == nil)

        let lying = StreamFormat.Check(contentType: "audio/mpeg", firstBytes: ogg)
        #expect(lying.format == .ogg)
        #expect(lying.mismatch == "the radio says audio/mpeg but sends Ogg; relaying it as Ogg")

        let aacAsMP3 = StreamFormat.Check(contentType: "audio/mpeg", firstBytes: aac)
        #expect(aacAsMP3.format == .aac)
        #expect(aacAsMP3.mismatch == "the radio says audio/mpeg but sends AAC (ADTS); relaying it as AAC (ADTS)")

        let unknownType = StreamFormat.Check(contentType: "application/octet-stream", firstBytes: mp3)
        #expect(unknownType.format == .mp3 && unknownType.mismatch != nil)

        let noType = StreamFormat.Check(contentType: nil, firstBytes: aac)
        #expect(noType.format == .aac)
        #expect(noType.mismatch == "the radio sends no content type, but its bytes are AAC (ADTS); relaying it as AAC (ADTS)")

        // Bytes that tell nothing leave the declared format, without a word.
        let undecided = StreamFormat.Check(contentType: "audio/aacp", firstBytes: [0x00, 0x01, 0x02])
        #expect(undecided.format == .aac && undecided.sniffed == nil && undecided.mismatch == nil)
        let flac = StreamFormat.Check(contentType: "audio/flac", firstBytes: Array("fLaC".utf8) + [UInt8](repeating: 0, count: 100))
        #expect(flac.format == .opaque && flac.mismatch == nil)

        // The declared format stands when its own frames are there, even if the other kind of
        // frame shows up first.
        let both = StreamFormat.Check(contentType: "audio/mpeg", firstBytes: aac.prefix(742) + mp3)
        #expect(both.sniffed == .aac)
        #expect(both.format == .mp3 && both.mismatch == nil)
    }
}
