import CastyCore
import CastyICY
import Logging
import NIOCore

/// One player's place in the stream: the next segment it is owed, and its framing.
/// Confined to its channel's event loop.
final class PlayerSink {
    let channel: Channel
    let logger: Logger
    private var framer: PlayerFramer
    private(set) var nextSeq: UInt64
    private var closed = false

    init(channel: Channel, framer: PlayerFramer, nextSeq: UInt64, logger: Logger) {
        self.channel = channel
        self.framer = framer
        self.nextSeq = nextSeq
        self.logger = logger
    }

    /// Writes the burst: `entries`, the first starting at `offset` bytes into its audio.
    func writeBurst(_ entries: [StreamHub.Entry], firstOffset offset: Int, hub: StreamHub) {
        for (index, entry) in entries.enumerated() {
            var audio = entry.numbered.segment.audio
            if index == 0 { audio.moveReaderIndex(forwardBy: min(offset, audio.readableBytes)) }
            self.write(audio, title: entry.title, hub: hub)
            self.nextSeq = entry.seq + 1
        }
        self.channel.flush()
    }

    /// Sends the segment if it is the one this player is owed next (catching up from the ring
    /// if a segment was missed), then drops the player if its socket has fallen too far behind.
    func deliver(_ entry: StreamHub.Entry, hub: StreamHub) {
        guard !self.closed, entry.seq >= self.nextSeq else { return }
        if entry.seq > self.nextSeq {
            guard let missed = hub.entries(from: self.nextSeq) else {
                self.drop(reason: "fell behind the ring buffer", hub: hub)
                return
            }
            for missing in missed where missing.seq < entry.seq {
                self.write(missing.numbered.segment.audio, title: missing.title, hub: hub)
            }
        }
        self.write(entry.numbered.segment.audio, title: entry.title, hub: hub)
        self.nextSeq = entry.seq + 1
        self.channel.flush()
        if !self.channel.isWritable {
            hub.droppedSlowListeners.wrappingIncrement(ordering: .relaxed)
            self.drop(reason: "too slow: more than \(hub.configuration.maxListenerLagBytes) bytes behind", hub: hub)
        }
    }

    private func write(_ audio: ByteBuffer, title: TitleBlock, hub: StreamHub) {
        var written = 0
        self.framer.frame(audio, title: title) { buffer in
            written += buffer.readableBytes
            self.channel.write(buffer, promise: nil)
        }
        hub.bytesOut.wrappingIncrement(by: written, ordering: .relaxed)
    }

    private func drop(reason: String, hub: StreamHub) {
        self.closed = true
        self.logger.warning("dropping listener", metadata: ["reason": "\(reason)"])
        self.channel.close(promise: nil)
    }
}
