import NIOCore
import Testing

@testable import CastyServer

/// The tail of what a connection's handler gave its channel: at a hand-over, the bytes not yet
/// written are exactly its last ones.
@Suite struct WrittenTailTests {
    @Test func theLastBytesAreNamedExactlyAcrossBuffers() {
        var tail = WrittenTail(capacity: 100)
        var given: [UInt8] = []
        var next: UInt8 = 0
        for size in [1, 7, 30, 0, 64, 3, 99, 12, 40] {
            let bytes = (0..<size).map { _ in next &+= 1; return next }
            given += bytes
            tail.append(ByteBuffer(bytes: bytes))
            for count in [0, 1, min(5, given.count), min(100, given.count)] {
                #expect(tail.last(count) == Array(given.suffix(count)), "last \(count) after \(given.count) bytes")
            }
        }
    }

    @Test func moreThanItKeepsIsNil() {
        var tail = WrittenTail(capacity: 10)
        for _ in 0..<100 { tail.append(ByteBuffer(bytes: [1, 2, 3, 4])) }
        // At least the capacity is kept, in whole buffers.
        #expect(tail.last(10) != nil)
        #expect(tail.last(10_000) == nil)
    }
}
