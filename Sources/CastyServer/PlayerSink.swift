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
    private(set) var nextSeq: UInt64?
    private var closed = false
    /// Whether the player has had no audio yet: its first byte must be where a listener may
    /// start (an MP3 or ADTS frame, an Ogg page after its chain's header pages), so segments
    /// without such a place are skipped until one comes.
    private var awaitingStart = true
    /// The format the player was announced: its decoder's.
    let format: StreamFormat

    init(channel: Channel, framer: PlayerFramer, nextSeq: UInt64?, format: StreamFormat, logger: Logger) {
        self.channel = channel
        self.framer = framer
        self.format = format
        self.nextSeq = nextSeq
        self.logger = logger
    }

    /// What was written to players, to be added to the hub's counters in one go.
    struct Sent {
        var bytes = 0
        var segments = 0

        static func += (sum: inout Sent, more: Sent) {
            sum.bytes += more.bytes
            sum.segments += more.segments
        }

        func count(in hub: StreamHub) {
            guard self.segments > 0 else { return }
            hub.bytesOut.wrappingIncrement(by: self.bytes, ordering: .relaxed)
            hub.segmentsOut.wrappingIncrement(by: self.segments, ordering: .relaxed)
        }
    }

    /// Writes the burst: recent segments, oldest first.
    func writeBurst(_ entries: [StreamHub.Entry], hub: StreamHub) {
        var sent = Sent()
        for entry in entries {
            sent += self.write(entry)
            self.nextSeq = entry.seq + 1
        }
        self.channel.flush()
        sent.count(in: hub)
    }

    /// Sends the segment if it is the one this player is owed next (catching up from the ring
    /// if a segment was missed), then drops the player if its socket has fallen too far behind.
    /// Returns what it wrote, for the caller to count.
    func deliver(_ entry: StreamHub.Entry, hub: StreamHub) -> Sent {
        guard !self.closed else { return Sent() }
        var sent = Sent()
        if let next = self.nextSeq {
            if entry.seq < next { return sent }
            // Missed segments still in the ring are sent first; if the stream itself skipped
            // (a loss upstream), the player simply goes on from here.
            if entry.seq > next, let missed = hub.entries(from: next) {
                for missing in missed where missing.seq < entry.seq {
                    sent += self.write(missing)
                }
            }
        }
        sent += self.write(entry)
        self.nextSeq = entry.seq + 1
        self.channel.flush()
        if !self.channel.isWritable {
            hub.droppedSlowListeners.wrappingIncrement(ordering: .relaxed)
            self.drop(reason: "too slow: more than \(hub.configuration.maxListenerLagBytes) bytes behind", hub: hub)
        }
        return sent
    }

    /// The stream changed identity: take the next segment whatever its number.
    func resync() {
        self.nextSeq = nil
    }

    private func write(_ entry: StreamHub.Entry) -> Sent {
        var audio = entry.numbered.segment.audio
        if self.awaitingStart {
            guard let start = entry.start else { return Sent() }
            self.awaitingStart = false
            audio.moveReaderIndex(forwardBy: start.offset)
            if let prefix = start.prefix {
                // An Ogg chain's header pages; Ogg players get no ICY metadata, so no framing.
                self.channel.write(prefix, promise: nil)
            }
        }
        var written = 0
        self.framer.frame(audio, title: entry.title) { buffer in
            written += buffer.readableBytes
            self.channel.write(buffer, promise: nil)
        }
        return Sent(bytes: written, segments: 1)
    }

    /// Closes the player's connection (the stream's format changed: its decoder cannot follow).
    func close(reason: String) {
        guard !self.closed else { return }
        self.closed = true
        self.logger.info("closing listener", metadata: ["reason": "\(reason)"])
        self.channel.close(promise: nil)
    }

    private func drop(reason: String, hub: StreamHub) {
        self.closed = true
        self.logger.warning("dropping listener", metadata: ["reason": "\(reason)"])
        self.channel.close(promise: nil)
    }
}
