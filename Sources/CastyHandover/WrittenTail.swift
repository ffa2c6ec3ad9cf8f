import NIOCore

/// The last bytes a connection's handler gave its channel, so that at a hand-over the bytes the
/// channel still holds (``NIOCore/ChannelOptions/bufferedWritableBytes``) can be named exactly: they
/// are the tail of what was given. Keeps whole buffers (shared slices, nothing copied), and only
/// as many as the channel still held unwritten when the last one was given (it can only hold
/// fewer later, until the next is given), never more than `capacity` bytes back. A listener
/// that keeps up holds one or two buffers.
public struct WrittenTail {
    private var buffers: [ByteBuffer] = []
    private var first = 0
    private var total = 0
    let capacity: Int

    /// Creates an empty tail that keeps at most `capacity` bytes back.
    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Notes a buffer given to the channel. Until the next ``trim(queued:)``, every buffer given
    /// is kept (up to `capacity` bytes back).
    public mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        self.buffers.append(buffer)
        self.total += buffer.readableBytes
        self.trim(queued: self.capacity)
    }

    /// The channel holds `queued` bytes not yet written: only the buffers that hold them are
    /// kept (it can only hold fewer later, until the next buffer is given).
    public mutating func trim(queued: Int) {
        let keep = min(queued, self.capacity)
        while self.first < self.buffers.count, self.total - self.buffers[self.first].readableBytes >= keep {
            self.total -= self.buffers[self.first].readableBytes
            self.first += 1
        }
        if self.first > 64 && self.first * 2 > self.buffers.count {
            self.buffers.removeFirst(self.first)
            self.first = 0
        } else if self.first == self.buffers.count {
            self.buffers.removeAll(keepingCapacity: true)
            self.first = 0
        }
    }

    /// The last `count` bytes given, or nil if fewer are kept.
    public func last(_ count: Int) -> [UInt8]? {
        guard count <= self.total else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var skip = self.total - count
        for buffer in self.buffers[self.first...] {
            if skip >= buffer.readableBytes {
                skip -= buffer.readableBytes
                continue
            }
            result += buffer.readableBytesView.dropFirst(skip)
            skip = 0
        }
        return result
    }
}
