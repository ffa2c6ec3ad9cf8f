import CastyICY
import CastyPeerProtocol
import NIOCore
import Testing

@Suite struct PeerFrameTests {
    static let frames: [PeerFrame] = [
        .data(seq: 42, segment: ICYSegment(audio: ByteBuffer(string: "audio bytes"), metadata: "StreamTitle='x';")),
        .data(seq: UInt64.max - 1, segment: ICYSegment(audio: ByteBuffer(repeating: 7, count: 16_000))),
        .heartbeat(newestSeq: 41),
        .heartbeat(newestSeq: .max),
        .leave(reason: "shutting down"),
        .tree(.evict(node: "m3")),
        .tree(.relocate(node: "m7")),
    ]

    @Test func roundTripsAtEverySplit() throws {
        var wire = ByteBuffer()
        for frame in Self.frames { wire.writePeerFrame(frame) }
        let bytes = Array(wire.readableBytesView)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let processor = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
            var out: [PeerFrame] = []
            var offset = 0
            while offset < bytes.count {
                let length = min(Int.random(in: 1...600, using: &rng), bytes.count - offset)
                try processor.process(buffer: ByteBuffer(bytes: bytes[offset..<offset + length])) { out.append($0) }
                offset += length
            }
            try processor.finishProcessing(seenEOF: true) { out.append($0) }
            #expect(out == Self.frames)
        }
    }

    @Test func dataFrameHeaderPlusSharedAudioIsADataFrame() throws {
        let segment = ICYSegment(audio: ByteBuffer(string: "shared audio"), metadata: "StreamTitle='t';")
        var wire = ByteBuffer.peerDataFrameHeader(seq: 9, metadata: segment.metadata, audioBytes: segment.audio.readableBytes)
        wire.writeImmutableBuffer(segment.audio)
        var direct = ByteBuffer()
        direct.writePeerFrame(.data(seq: 9, segment: segment))
        #expect(wire == direct)
    }

    @Test func refusesUnknownTypesOversizedFramesAndTruncation() {
        let processor = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        #expect(throws: PeerProtocolError.self) { try processor.process(buffer: ByteBuffer(bytes: [0x09, 0, 0, 0, 0])) { _ in } }
        let big = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        #expect(throws: PeerProtocolError.self) { try big.process(buffer: ByteBuffer(bytes: [0x01, 0x7F, 0xFF, 0xFF, 0xFF])) { _ in } }
        let cut = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        #expect(throws: PeerProtocolError.self) {
            try cut.process(buffer: ByteBuffer(bytes: [0x02, 0, 0, 0, 8, 1, 2])) { _ in }
            try cut.finishProcessing(seenEOF: true) { _ in }
        }
        let shortHeartbeat = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        #expect(throws: PeerProtocolError.self) { try shortHeartbeat.process(buffer: ByteBuffer(bytes: [0x02, 0, 0, 0, 1, 1])) { _ in } }
    }
}
