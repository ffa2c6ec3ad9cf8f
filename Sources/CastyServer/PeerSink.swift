import CastyPeerProtocol
import Logging
import NIOCore

/// One child peer's (or observer's) link: the next segment it is owed. Confined to its channel's
/// event loop.
final class PeerSink {
    let channel: Channel
    let name: String
    let observer: Bool
    /// The peer protocol version of the link: version 1 peers get no context or codec header frames.
    let version: Int
    let logger: Logger
    private(set) var nextSeq: UInt64?
    private var lastWrite = NIODeadline.now()
    /// Whether this node ended the link (with a leave), as opposed to the child's link dying.
    private(set) var closed = false

    init(channel: Channel, name: String, observer: Bool, version: Int, nextSeq: UInt64?, logger: Logger) {
        self.channel = channel
        self.name = name
        self.observer = observer
        self.version = version
        self.nextSeq = nextSeq
        self.logger = logger
    }

    /// Sends the catch-up segments from the ring.
    func catchUp(_ entries: [StreamHub.Entry], hub: StreamHub) {
        for entry in entries {
            let header = ByteBuffer.peerDataFrameHeader(
                seq: entry.seq,
                metadata: entry.numbered.segment.metadata,
                audioBytes: entry.numbered.segment.audio.readableBytes
            )
            self.write(header, entry.numbered.segment.audio, hub: hub)
            self.nextSeq = entry.seq + 1
        }
        self.channel.flush()
    }

    /// Sends the segment if it is the one owed next (catching up from the ring after a skip).
    func deliver(_ entry: StreamHub.Entry, header: ByteBuffer, hub: StreamHub) {
        guard !self.closed else { return }
        if let next = self.nextSeq {
            if entry.seq < next { return }
            if entry.seq > next, let missed = hub.entries(from: next) {
                self.catchUp(missed.filter { $0.seq < entry.seq }, hub: hub)
            }
        }
        self.write(header, entry.numbered.segment.audio, hub: hub)
        self.nextSeq = entry.seq + 1
        self.channel.flush()
        if !self.channel.isWritable {
            hub.droppedSlowListeners.wrappingIncrement(ordering: .relaxed)
            self.leave(reason: "too slow: more than \(hub.configuration.maxListenerLagBytes) bytes behind")
        }
    }

    func heartbeatIfIdle(newestSeq: UInt64) {
        guard !self.closed, NIODeadline.now() - self.lastWrite >= .milliseconds(Int64(PeerProtocol.heartbeatIntervalMilliseconds) * 3 / 4) else { return }
        self.send(.heartbeat(newestSeq: newestSeq))
    }

    func send(_ frame: PeerFrame) {
        guard !self.closed else { return }
        var buffer = self.channel.allocator.buffer(capacity: 32)
        buffer.writePeerFrame(frame)
        self.lastWrite = .now()
        self.channel.writeAndFlush(buffer, promise: nil)
    }

    /// Ends the link with a leave frame; the child rejoins through the root.
    func leave(reason: String) {
        guard !self.closed else { return }
        self.send(.leave(reason: reason))
        self.closed = true
        self.logger.info("peer link ended", metadata: ["peer.name": "\(self.name)", "reason": "\(reason)"])
        let channel = self.channel
        channel.flush()
        channel.eventLoop.scheduleTask(in: .milliseconds(50)) { channel.close(promise: nil) }
    }

    private func write(_ header: ByteBuffer, _ audio: ByteBuffer, hub: StreamHub) {
        self.lastWrite = .now()
        self.channel.write(header, promise: nil)
        self.channel.write(audio, promise: nil)
        hub.bytesOut.wrappingIncrement(by: header.readableBytes + audio.readableBytes, ordering: .relaxed)
        hub.segmentsOut.wrappingIncrement(ordering: .relaxed)
    }
}
