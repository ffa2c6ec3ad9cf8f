import Foundation
import NIOCore

/// The last bytes a connection's handler gave its channel, so that at a hand-over the bytes the
/// channel still holds (``NIOCore/ChannelOptions/bufferedWritableBytes``) can be named exactly: they
/// are the tail of what was given. Keeps whole buffers (shared slices, nothing copied) until they
/// are more than `capacity` bytes back.
struct WrittenTail {
    private var buffers: [ByteBuffer] = []
    private var first = 0
    private var total = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Notes a buffer given to the channel.
    mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        self.buffers.append(buffer)
        self.total += buffer.readableBytes
        while self.first < self.buffers.count, self.total - self.buffers[self.first].readableBytes >= self.capacity {
            self.total -= self.buffers[self.first].readableBytes
            self.first += 1
        }
        if self.first > 64 && self.first * 2 > self.buffers.count {
            self.buffers.removeFirst(self.first)
            self.first = 0
        }
    }

    /// The last `count` bytes given, or nil if fewer are kept.
    func last(_ count: Int) -> [UInt8]? {
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

    /// What a hand-over takes from `channel`: a duplicate of its socket's descriptor (found in
    /// `sockets`) and the bytes it holds unwritten; nil when the channel is closed, its socket is
    /// not found, or it holds more than is kept. Runs on the channel's loop.
    func handOver(_ channel: Channel, sockets: OpenSockets) -> (descriptor: CInt, unwritten: Data)? {
        guard channel.isActive, let pending = try? channel.syncOptions?.getOption(.bufferedWritableBytes),
            let unwritten = self.last(pending),
            let fd = sockets.descriptor(local: channel.localAddress, remote: channel.remoteAddress)
        else { return nil }
        let copy = dup(fd)
        return copy >= 0 ? (copy, Data(unwritten)) : nil
    }
}
