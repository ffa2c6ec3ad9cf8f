import NIOCore
import Testing

@testable import CastyHandover

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

    @Test func onlyWhatTheChannelStillHoldsIsKept() {
        var tail = WrittenTail(capacity: 1_000_000)
        var given: [UInt8] = []
        // (size of the buffer given, bytes the channel holds unwritten right after)
        for (size, queued) in [(100, 100), (50, 150), (70, 70), (30, 31), (200, 200), (10, 10)] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: given.count + $0) }
            given += bytes
            tail.append(ByteBuffer(bytes: bytes))
            tail.trim(queued: queued)
            #expect(tail.last(queued) == Array(given.suffix(queued)), "after \(given.count) bytes, \(queued) queued")
        }
        // A listener that keeps up: only the last buffer is left.
        #expect(tail.last(10) == Array(given.suffix(10)))
        #expect(tail.last(11) == nil)
    }

    @Test func aTrimKeepsWhatTheChannelStillHolds() {
        var tail = WrittenTail(capacity: 1_000_000)
        for byte in UInt8(1)...3 { tail.append(ByteBuffer(bytes: [UInt8](repeating: byte, count: 100))) }
        // Not trimmed yet: all 300 bytes are kept, and named.
        #expect(tail.last(300) == [UInt8](repeating: 1, count: 100) + [UInt8](repeating: 2, count: 100) + [UInt8](repeating: 3, count: 100))
        // The channel wrote all but 150: the first buffer goes, the second stays whole.
        tail.trim(queued: 150)
        #expect(tail.last(200) == [UInt8](repeating: 2, count: 100) + [UInt8](repeating: 3, count: 100))
        #expect(tail.last(201) == nil)
        tail.append(ByteBuffer(bytes: [UInt8](repeating: 4, count: 100)))
        tail.trim(queued: 100)
        #expect(tail.last(100) == [UInt8](repeating: 4, count: 100))
        #expect(tail.last(101) == nil)
    }
}
