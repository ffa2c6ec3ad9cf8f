import CastyCore
import CastyICY
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
