import CastyHandover
import Foundation
import NIOCore

/// What players' and child peers' connections share of their life, as a pure value held by each
/// one's state machine: whether this process serves the connection, waits to resume it (taken
/// over from another process, silent until activated), or handed it over; and the bytes given to
/// the channel lately (its written tail), so that a hand-over can name exactly the bytes the
/// channel has not written yet.
struct StreamingConnectionState {
    enum Phase: Equatable {
        /// This process serves the connection.
        case serving
        /// Taken over from another process: `unwritten` goes first once activated.
        case resuming(unwritten: ByteBuffer)
        /// Handed over to another process: this one no longer serves the socket.
        case handedOver
    }

    private(set) var phase: Phase
    private var tail: WrittenTail

    /// A connection this process accepted.
    init(tailCapacity: Int) {
        self.phase = .serving
        self.tail = WrittenTail(capacity: tailCapacity)
    }

    /// A connection taken over from another process, whose channel had `unwritten` bytes left.
    init(resuming unwritten: ByteBuffer, tailCapacity: Int) {
        self.phase = .resuming(unwritten: unwritten)
        self.tail = WrittenTail(capacity: tailCapacity)
    }

    /// Whether this process serves the connection: a close of the channel is its to act on only
    /// then (resuming, the close belongs to the activation; handed over, to the other process).
    var isServing: Bool { self.phase == .serving }

    /// `buffer` was given to the channel.
    mutating func gave(_ buffer: ByteBuffer) {
        self.tail.append(buffer)
    }

    /// The channel was flushed and holds `queued` bytes not yet written.
    mutating func flushed(queued: Int) {
        self.tail.trim(queued: queued)
    }

    /// What to do when a resumed connection is activated.
    enum Activation: Equatable {
        /// Not resuming: nothing.
        case none
        /// Write `unwritten`, then serve the connection as one accepted here.
        case resume(unwritten: ByteBuffer)
        /// The socket closed during the hand-over: like a connection that closed.
        case closedMeanwhile
    }

    /// The other process let go: serve the connection from now on, if its channel `isActive`.
    mutating func activate(isActive: Bool) -> Activation {
        guard case .resuming(let unwritten) = self.phase else { return .none }
        self.phase = .serving
        return isActive ? .resume(unwritten: unwritten) : .closedMeanwhile
    }

    /// Hands the connection over: returns the bytes its channel holds unwritten (`queued` of
    /// them), or nil when it is not served here or more are unwritten than the tail keeps.
    mutating func handOver(queued: Int) -> Data? {
        guard self.isServing, let unwritten = self.tail.last(queued) else { return nil }
        self.phase = .handedOver
        return Data(unwritten)
    }
}
