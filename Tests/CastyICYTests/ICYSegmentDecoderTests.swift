import CastyICY
import NIOCore
import NIOTestUtils
import Testing

@Suite struct ICYSegmentDecoderTests {
    @Test func removesPaddingAndHandlesEmptyAndFullBlocks() throws {
        let full = String(repeating: "x", count: 255 * 16)
        var body = ByteBuffer()
        for (audio, meta) in [("aaaa", ""), ("bbbb", "StreamTitle='A';"), ("cccc", full), ("dddd", "x")] {
            body.writeString(audio)
            try body.writeICYMetadataBlock(meta)
        }
        let segments = try decodeAll(ICYSegmentDecoder(framing: .metadata(interval: 4)), [body])
        #expect(segments.map { String(buffer: $0.audio) } == ["aaaa", "bbbb", "cccc", "dddd"])
        #expect(segments.map(\.metadataText) == ["", "StreamTitle='A';", full, "x"])
    }

    @Test func passesNIOVerifier() throws {
        var body = ByteBuffer(string: "12345")
        try body.writeICYMetadataBlock("hello")
        body.writeString("67890")
        try body.writeICYMetadataBlock("")
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(body, [ICYSegment(audio: ByteBuffer(string: "12345"), metadata: "hello"), ICYSegment(audio: ByteBuffer(string: "67890"))])],
            decoderFactory: { ICYSegmentDecoder(framing: .metadata(interval: 5)) }
        )
    }

    @Test func audioIsASliceOfTheReceivedBufferNotACopy() throws {
        var body = ByteBuffer(repeating: 7, count: 8192)
        try body.writeICYMetadataBlock("StreamTitle='t';")
        let inputBase = body.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
        let segments = try decodeAll(ICYSegmentDecoder(framing: .metadata(interval: 8192)), [body])
        #expect(segments.count == 1)
        let audioBase = segments[0].audio.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
        #expect(audioBase == inputBase, "the audio must point into the buffer it arrived in")
    }

    @Test func keepsMetadataBytesThatAreNotUTF8() throws {
        var body = ByteBuffer(string: "ab")
        try body.writeICYMetadataBlock([0x53, 0xE9, 0x61])  // "Séa" in Latin-1
        let segments = try decodeAll(ICYSegmentDecoder(framing: .metadata(interval: 2)), [body])
        #expect(segments.first?.metadata.bytes == [0x53, 0xE9, 0x61])
        #expect(segments.first?.metadataText == "Séa")
    }

    @Test func audioOnlySegmentsHaveNoMetadata() throws {
        let segments = try decodeAll(ICYSegmentDecoder(framing: .audioOnly(segmentSize: 3)), split(Array("abcdefghi".utf8), at: [1, 4, 5]))
        #expect(segments.map { String(buffer: $0.audio) } == ["abc", "def", "ghi"])
        #expect(segments.allSatisfy { $0.metadata.readableBytes == 0 })
    }

    @Test func neverBuffersMoreThanOneSegment() throws {
        // A decoder stuck on the largest possible metadata block holds at most interval + 1 + 4080 bytes.
        let processor = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: .metadata(interval: 100)))
        var count = 0
        for _ in 0..<1000 {
            try processor.process(buffer: ByteBuffer(repeating: 255, count: 97)) { _ in count += 1 }
            #expect(processor.unprocessedBytes <= 100 + 1 + 255 * 16 + 97)
        }
        #expect(count > 0)
    }
}
