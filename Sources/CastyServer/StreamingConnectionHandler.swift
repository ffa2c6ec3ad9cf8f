import CastyHandover
import CastyTLS
import Foundation
import NIOCore

/// The byte-moving part that players' and child peers' handlers share: every buffer goes to the
/// channel through ``give(_:to:)`` and every flush through ``flush(_:)``, so that the
/// connection's state machine keeps its written tail; a hand-over takes the socket with
/// ``takeSocket(of:sockets:)``. The state itself is the machine's (``life``).
protocol StreamingConnectionHandler: AnyObject {
    /// The connection's share of the hand-over, held by its state machine.
    var life: StreamingConnectionState { get set }
}

extension StreamingConnectionHandler {
    /// Gives `buffer` to `channel`; the caller flushes with ``flush(_:)``.
    func give(_ buffer: ByteBuffer, to channel: Channel) {
        channel.write(buffer, promise: nil)
        self.life.gave(buffer)
    }

    /// Flushes `channel`; the tail keeps only what it still holds unwritten.
    func flush(_ channel: Channel) {
        channel.flush()
        if let queued = try? channel.syncOptions?.getOption(.bufferedWritableBytes) { self.life.flushed(queued: queued) }
    }

    /// For a hand-over: a duplicate of `channel`'s socket (found in `sockets`) and the bytes the
    /// channel holds unwritten; nil when it cannot be handed over (closed, not served here, over
    /// TLS, its socket not found, or more unwritten than kept). On success the connection is handed over.
    /// Runs on the channel's loop.
    func takeSocket(of channel: Channel, sockets: OpenSockets) -> (descriptor: CInt, unwritten: Data)? {
        // A TLS session's keys live in this process: such a connection cannot move to another.
        guard channel.isActive, !TLSSniffer.isEncrypted(channel.pipeline.syncOperations),
            let queued = try? channel.syncOptions?.getOption(.bufferedWritableBytes),
            let descriptor = sockets.descriptor(local: channel.localAddress, remote: channel.remoteAddress)
        else { return nil }
        let copy = dup(descriptor)
        guard copy >= 0 else { return nil }
        guard let unwritten = self.life.handOver(queued: queued) else {
            close(copy)
            return nil
        }
        return (copy, unwritten)
    }
}
