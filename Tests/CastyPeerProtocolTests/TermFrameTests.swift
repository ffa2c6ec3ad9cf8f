import CastyPeerProtocol
import NIOCore
import Testing

@Suite struct TermFrameTests {
    @Test func aTermFrameRoundTripsExactlyAsSpecified() throws {
        var buffer = ByteBuffer()
        buffer.writePeerFrame(.term(2, root: "root2"))
        #expect(Array(buffer.readableBytesView) == [0x08, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 2] + Array("root2".utf8))
        var decoder = PeerFrameDecoder()
        #expect(try decoder.decode(buffer: &buffer) == .term(2, root: "root2"))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [[UInt8]([0x08, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2]), [0x08, 0, 0, 0, 3, 1, 2, 3]])
    func aTermFrameWithoutARootNameOrTooShortIsAProtocolError(_ bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        var decoder = PeerFrameDecoder()
        #expect(throws: PeerProtocolError.self) { try decoder.decode(buffer: &buffer) }
    }
}
