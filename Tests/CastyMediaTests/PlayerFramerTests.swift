import CastyICY
import CastyMedia
import NIOCore
import Testing

@Suite struct PlayerFramerTests {
    func title(_ text: String, version: Int) throws -> TitleBlock {
        var block = TitleBlock()
        for _ in 1..<version { try block.update(ByteBuffer(string: "x\(Int.random(in: 0...1_000_000))")) }
        try block.update(ByteBuffer(string: text))
        return block
    }

    @Test func insertsBlocksEveryMetaintAcrossAnySplitAndDecodesBack() throws {
        let song = try self.title("StreamTitle='A - B';", version: 1)
        var rng = SystemRandomNumberGenerator()
        let audio = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for metaint in [1, 7, 100, 4096] {
            var framer = PlayerFramer(metaint: metaint)
            var wire = ByteBuffer()
            var offset = 0
            while offset < audio.count {
                let length = min(Int.random(in: 1...3000), audio.count - offset)
                framer.frame(ByteBuffer(bytes: audio[offset..<offset + length]), title: song) { wire.writeImmutableBuffer($0) }
                offset += length
            }
            // What a player decodes: the same audio, the title once (in the first block), then empty blocks.
            let processor = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: .metadata(interval: metaint)))
            var decodedAudio: [UInt8] = []
            var titles: [String] = []
            try processor.process(buffer: wire) { segment in
                decodedAudio += segment.audio.readableBytesView
                if segment.metadata.readableBytes > 0 { titles.append(segment.metadataText) }
            }
            #expect(decodedAudio == Array(audio.prefix(audio.count / metaint * metaint)))
            #expect(titles == ["StreamTitle='A - B';"])
            #expect(processor.unprocessedBytes == audio.count % metaint)
        }
    }

    @Test func sendsATitleAgainOnlyWhenItChanges() throws {
        var framer = PlayerFramer(metaint: 2)
        var blocks: [[UInt8]] = []
        var first = TitleBlock()
        try first.update(ByteBuffer(string: "StreamTitle='1';"))
        var second = first
        try second.update(ByteBuffer(string: "StreamTitle='2';"))
        for title in [first, first, second, second] {
            framer.frame(ByteBuffer(string: "ab"), title: title) { buffer in
                if buffer.readableBytes != 2 || buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)! < 16 {
                    blocks.append(Array(buffer.readableBytesView))
                }
            }
        }
        #expect(blocks.map { $0.first } == [1, 0, 1, 0])
        #expect(second.title == "2")
    }

    @Test func withoutMetaintEmitsTheAudioItself() {
        var framer = PlayerFramer(metaint: nil)
        var out: [ByteBuffer] = []
        let audio = ByteBuffer(string: "pure audio")
        framer.frame(audio, title: TitleBlock()) { out.append($0) }
        #expect(out == [audio])
    }

    @Test func titleTooLongIsRefusedAndTheOldOneStays() throws {
        var block = TitleBlock()
        try block.update(ByteBuffer(string: "StreamTitle='ok';"))
        #expect(throws: ICYError.self) { try block.update(ByteBuffer(repeating: 65, count: 5000)) }
        #expect(block.title == "ok")
        #expect(block.version == 1)
    }
}

/// A player's framing resumed in another process (a hand-over) goes on exactly where it was.
@Suite struct PlayerFramerResumeTests {
    @Test func aResumedFramerContinuesTheSameBytes() throws {
        var song = TitleBlock()
        try song.update(ByteBuffer(string: "StreamTitle='A - B';"))
        let audio = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for cut in [1, 99, 100, 101, 12_345, 49_999] {
            var whole = PlayerFramer(metaint: 100)
            var expected: [UInt8] = []
            whole.frame(ByteBuffer(bytes: audio), title: song) { expected += $0.readableBytesView }

            var first = PlayerFramer(metaint: 100)
            var got: [UInt8] = []
            first.frame(ByteBuffer(bytes: audio[..<cut]), title: song) { got += $0.readableBytesView }
            // The new process's titles have other versions: the same text is not sent again.
            var renumbered = TitleBlock()
            try renumbered.update(ByteBuffer(string: "x"))
            try renumbered.update(ByteBuffer(string: "StreamTitle='A - B';"))
            var resumed = PlayerFramer(metaint: first.metaint, untilMetadata: first.untilMetadata, sentTitle: first.sentTitle)
            resumed.frame(ByteBuffer(bytes: audio[cut...]), title: renumbered) { got += $0.readableBytesView }
            #expect(got == expected, "cut at \(cut)")
        }
    }

    @Test func aNewTitleAfterTheResumeIsSent() throws {
        var song = TitleBlock()
        try song.update(ByteBuffer(string: "StreamTitle='A';"))
        var resumed = PlayerFramer(metaint: 4, untilMetadata: 2, sentTitle: ByteBuffer(string: "StreamTitle='Old';"))
        var out: [[UInt8]] = []
        resumed.frame(ByteBuffer(bytes: [1, 2, 3, 4, 5, 6]), title: song) { out.append(Array($0.readableBytesView)) }
        #expect(out[0] == [1, 2])
        #expect(out[1] == Array(song.block.readableBytesView))
        #expect(out[2] == [3, 4, 5, 6])
        #expect(out[3] == [0])
    }
}
