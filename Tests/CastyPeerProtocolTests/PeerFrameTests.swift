import CastyICY
import CastyPeerProtocol
import NIOCore
import NIOHTTP1
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
        .tree(.drain(node: "m2")),
        .context(["Content-Type": "audio/ogg", "icy-name": "Café Radio", "icy-genre": "Jazz: Modal"]),
        .context([:]),
        .codecHeaders(ByteBuffer(bytes: Array("OggS".utf8) + [0, 2] + Array(repeating: 9, count: 4000))),
        .place(depth: 3, path: ["root", "m1", "m4"]),
        .place(depth: 1, path: ["root"]),
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

    @Test func contextFramesAreHeaderLines() {
        var wire = ByteBuffer()
        wire.writePeerFrame(.context(["Content-Type": "audio/aac", "icy-br": "64"]))
        let kind = wire.readInteger(as: UInt8.self)
        let length = wire.readInteger(as: UInt32.self)
        #expect(kind == PeerFrame.Kind.context.rawValue)
        #expect(String(buffer: wire) == "Content-Type: audio/aac\r\nicy-br: 64\r\n")
        #expect(length.map { Int($0) } == wire.readableBytes)
    }

    @Test func refusesContextFramesOverTheLimitAndLinesWithoutAColon() {
        var tooLong = ByteBuffer()
        tooLong.writeInteger(PeerFrame.Kind.context.rawValue)
        tooLong.writeInteger(UInt32(PeerFrame.maxContextBytes + 1))
        tooLong.writeRepeatingByte(UInt8(ascii: "a"), count: PeerFrame.maxContextBytes + 1)
        var decoder = PeerFrameDecoder()
        #expect(throws: PeerProtocolError.self) { try decoder.decode(buffer: &tooLong) }

        var noColon = ByteBuffer()
        noColon.writeInteger(PeerFrame.Kind.context.rawValue)
        noColon.writeInteger(UInt32(9))
        noColon.writeString("no colon\n")
        #expect(throws: PeerProtocolError.self) { try decoder.decode(buffer: &noColon) }
    }

    @Test func placeFramesAreADepthThenThePath() throws {
        var wire = ByteBuffer()
        wire.writePeerFrame(.place(depth: 2, path: ["root", "m1"]))
        #expect(Array(wire.readableBytesView) == [0x07, 0, 0, 0, 9, 0, 2] + Array("root,m1".utf8))
    }

    @Test func refusesPlaceFramesWhoseDepthAndPathDisagree() {
        for payload in [[0, 2] + Array("root".utf8), [0, 1], [0, 2] + Array("root,".utf8), [0]] as [[UInt8]] {
            let processor = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
            let frame: [UInt8] = [0x07, 0, 0, 0, UInt8(payload.count)] + payload
            #expect(throws: PeerProtocolError.self) { try processor.process(buffer: ByteBuffer(bytes: frame)) { _ in } }
        }
    }

    @Test func percentEncodingKeepsEveryByte() {
        let latin1: [UInt8] = Array("StreamTitle='Caf".utf8) + [0xE9] + Array(" del Mar';".utf8)
        let encoded = PeerProtocol.percentEncode(latin1)
        #expect(encoded == "StreamTitle%3D%27Caf%E9%20del%20Mar%27%3B")
        #expect(PeerProtocol.percentDecode(encoded) == latin1)
        let every = (0...255).map { UInt8($0) }
        #expect(PeerProtocol.percentDecode(PeerProtocol.percentEncode(every)) == every)
        #expect(PeerProtocol.percentDecode("%E") == nil)
        #expect(PeerProtocol.percentDecode("%zz") == nil)
    }
}

extension PeerFrameTests {
    /// Operation 3 of a tree frame: `drain`.
    @Test func aDrainTreeFrameIsOperationThree() throws {
        var buffer = ByteBuffer()
        buffer.writePeerFrame(.tree(.drain(node: "m2")))
        #expect(Array(buffer.readableBytesView) == [0x04, 0, 0, 0, 3, 3] + Array("m2".utf8))
        let processor = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder())
        var out: [PeerFrame] = []
        try processor.process(buffer: buffer) { out.append($0) }
        #expect(out == [.tree(.drain(node: "m2"))])
    }
}
