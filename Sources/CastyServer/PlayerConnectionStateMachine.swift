import CastyHandover
import CastyMedia
import CastyStream
import Foundation
import NIOCore

/// A player's connection as a pure value: what to do at each event (its request, the burst, each
/// segment, the socket falling behind, the stream's format changing, a hand-over, the connection
/// closing). It holds all of the connection's state: where the player stands in the stream, its
/// framing, whether it still awaits a place to start, since when it listens, and its share of the
/// hand-over (``life``). Every method takes an event and returns the action for
/// ``PlayerConnectionHandler`` to carry out; no I/O, the time passed in, so it is tested without a
/// channel.
struct PlayerConnectionStateMachine {
    enum State: Equatable {
        /// Waiting for the request head.
        case idle
        /// The head asked for the stream; waiting for the hub's join.
        case joining(wantsMetadata: Bool, headOnly: Bool)
        /// Getting the stream. `nextSeq` is the segment owed next (`nil`: whatever comes).
        case streaming(nextSeq: UInt64?, format: StreamFormat)
        /// This node closed the player (too slow, or the format changed); the channel is closing.
        case closing
        /// Answered and done, or never joined (refused, `HEAD`); the channel is closing.
        case done
        /// The connection is closed.
        case closed
    }

    private(set) var state = State.idle
    /// The player's ICY framing: its metadata interval and where it stands in it.
    private(set) var framer = PlayerFramer(metaint: nil)
    /// Whether the player has had no audio yet: its first byte must be where a listener may
    /// start (an MP3 or ADTS frame, an Ogg page after its chain's header pages), so segments
    /// without such a place are skipped until one comes.
    private(set) var awaitingStart = true
    /// When the player started streaming (here, or in this process after a hand-over).
    private(set) var joinedAt: NIODeadline?
    /// Whether this process serves the connection, and the bytes given to its channel lately.
    var life: StreamingConnectionState

    /// A new connection: waiting for its request. `tailCapacity`: the most bytes a hand-over can
    /// find unwritten in its channel.
    init(tailCapacity: Int = 1 << 20) {
        self.life = StreamingConnectionState(tailCapacity: tailCapacity)
    }

    /// A player taken over from another process (a hand-over): streaming where `player` says,
    /// after the `unwritten` bytes, once activated.
    init(resuming player: HandoverState.Player, unwritten: ByteBuffer, tailCapacity: Int) {
        self.state = .streaming(nextSeq: player.nextSeq, format: StreamFormat(rawValue: player.format) ?? .mp3)
        self.framer = PlayerFramer(metaint: player.metaint, untilMetadata: player.untilMetadata, sentTitle: player.sentTitle.map { ByteBuffer(bytes: $0) })
        self.awaitingStart = player.awaitingStart
        self.life = StreamingConnectionState(resuming: unwritten, tailCapacity: tailCapacity)
    }

    /// The segment owed next, while streaming.
    var nextSeq: UInt64? {
        if case .streaming(let next, _) = self.state { return next }
        return nil
    }

    // MARK: The request

    /// What to do with the request head.
    enum HeadAction: Equatable {
        /// The node is full: answer `503` and close.
        case refuseFull(maxListeners: Int)
        /// Take the hub's join (burst, context), then call ``joined(format:nextSeq:playerMetaint:)``.
        case join
        /// A head after the first: players send nothing after their request.
        case ignore
    }

    /// The request head arrived, asking for the stream with `method` (`GET` or `HEAD`).
    mutating func headReceived(method: String, wantsMetadata: Bool, listeners: Int, maxListeners: Int) -> HeadAction {
        guard case .idle = self.state else { return .ignore }
        guard listeners < maxListeners else {
            self.state = .done
            return .refuseFull(maxListeners: maxListeners)
        }
        self.state = .joining(wantsMetadata: wantsMetadata, headOnly: method != "GET")
        return .join
    }

    /// What to do once the join is taken.
    enum JoinAction: Equatable {
        /// Write the reply head (with this `icy-metaint`, if any) and close: a `HEAD` request.
        case writeHeadAndClose(metaint: Int?)
        /// Write the reply head, start the player (counted, joined to its loop's fan-out), write
        /// the burst, then call ``burstWritten(lastSeq:)``.
        case writeHeadAndStream(metaint: Int?)
    }

    /// The hub's join at `now`: the stream's format (the player's `Content-Type`'s) and the next
    /// number. Ogg streams carry their titles in their own comment headers: no ICY metadata in
    /// them.
    mutating func joined(format: StreamFormat, nextSeq: UInt64?, playerMetaint: Int, now: NIODeadline) -> JoinAction {
        guard case .joining(let wantsMetadata, let headOnly) = self.state else {
            preconditionFailure("joined without a head: \(self.state)")
        }
        let metaint = wantsMetadata && format.carriesICYMetadata ? playerMetaint : nil
        if headOnly {
            self.state = .done
            return .writeHeadAndClose(metaint: metaint)
        }
        self.state = .streaming(nextSeq: nextSeq, format: format)
        self.framer = PlayerFramer(metaint: metaint)
        self.joinedAt = now
        return .writeHeadAndStream(metaint: metaint)
    }

    /// The burst (or a catch-up) was written up to segment `lastSeq` (`nil`: nothing written).
    mutating func burstWritten(lastSeq: UInt64?) {
        guard let lastSeq, case .streaming(_, let format) = self.state else { return }
        self.state = .streaming(nextSeq: lastSeq + 1, format: format)
    }

    // MARK: The stream

    /// What to do with a new segment.
    enum SegmentAction: Equatable {
        /// Not for this player: already sent, or the player is not streaming.
        case skip
        /// Write the segments from `catchUpFrom` that the loop still has (the player missed
        /// them), then this one; then call ``written(isWritable:maxLagBytes:)``.
        case write(catchUpFrom: UInt64?)
    }

    /// Segment `seq` is being fanned out.
    mutating func segment(_ seq: UInt64) -> SegmentAction {
        guard case .streaming(let next, let format) = self.state else { return .skip }
        var catchUpFrom: UInt64?
        if let next {
            if seq < next { return .skip }
            // Missed segments still kept are sent first; if the stream itself skipped (a loss
            // upstream), the player simply goes on from here.
            if seq > next { catchUpFrom = next }
        }
        self.state = .streaming(nextSeq: seq + 1, format: format)
        return .write(catchUpFrom: catchUpFrom)
    }

    /// What to do after writing a segment.
    enum WrittenAction: Equatable {
        case none
        /// The socket is more than the lag limit behind: count it, log, close.
        case dropTooSlow(reason: String)
    }

    /// A segment was written and flushed; `isWritable` is the channel's writability after it
    /// (false: more than the lag limit is queued, the player cannot keep up).
    mutating func written(isWritable: Bool, maxLagBytes: Int) -> WrittenAction {
        guard case .streaming = self.state, !isWritable else { return .none }
        self.state = .closing
        return .dropTooSlow(reason: "too slow: more than \(maxLagBytes) bytes behind")
    }

    /// The stream changed identity: take the next segment whatever its number.
    mutating func streamChanged() {
        guard case .streaming(_, let format) = self.state else { return }
        self.state = .streaming(nextSeq: nil, format: format)
    }

    /// What to do when the stream's format changes.
    enum FormatAction: Equatable {
        case none
        /// The player's decoder cannot follow: log and close.
        case close(reason: String)
    }

    /// The stream's format is now `format`: a player announced another one is closed.
    mutating func formatChanged(to format: StreamFormat) -> FormatAction {
        guard case .streaming(_, let announced) = self.state, announced != format else { return .none }
        self.state = .closing
        return .close(reason: "the stream's format changed from \(announced.name) to \(format.name); reconnect")
    }

    /// The format the player was announced, while it streams.
    var format: StreamFormat? {
        if case .streaming(_, let format) = self.state { return format }
        return nil
    }

    // MARK: The end

    /// What to do when the connection closes.
    enum CloseAction: Equatable {
        case none
        /// The player had joined: leave the fan-out, uncount it, log its time (`seconds`).
        case leave(seconds: Int64)
    }

    /// The connection closed at `now`. A close while the connection is resuming or handed over
    /// is not this process's: nothing to do.
    mutating func channelInactive(now: NIODeadline) -> CloseAction {
        guard self.life.isServing else { return .none }
        defer { self.state = .closed }
        switch self.state {
        case .streaming, .closing: return .leave(seconds: self.joinedAt.map { (now - $0).nanoseconds / 1_000_000_000 } ?? 0)
        case .idle, .joining, .done, .closed: return .none
        }
    }

    // MARK: Framing

    /// Frames one segment for this player: its audio (from the first place a listener may start,
    /// while the player awaits one: the segment's Ogg header pages first, if any) with a metadata
    /// block every `icy-metaint` bytes, carrying its title when it is new to the player. Each
    /// buffer goes to `emit` and into the written tail. Returns the bytes emitted, or nil when the
    /// segment has no place to start and the player still awaits one.
    mutating func frame(_ entry: StreamLedger.Entry, emit: (ByteBuffer) -> Void) -> Int? {
        var audio = entry.numbered.segment.audio
        var bytes = 0
        if self.awaitingStart {
            guard let start = entry.start else { return nil }
            self.awaitingStart = false
            audio.moveReaderIndex(forwardBy: start.offset)
            if let prefix = start.prefix {
                // An Ogg chain's header pages; Ogg players get no ICY metadata, so no framing.
                self.life.gave(prefix)
                emit(prefix)
                bytes += prefix.readableBytes
            }
        }
        // The framer is moved out while it frames, so that its buffers can go into the tail.
        var framer = self.framer
        self.framer = PlayerFramer(metaint: nil)
        framer.frame(audio, title: entry.title) { buffer in
            self.life.gave(buffer)
            emit(buffer)
            bytes += buffer.readableBytes
        }
        self.framer = framer
        return bytes
    }

    // MARK: Hand-over

    /// What to do when the connection is activated after a hand-over.
    enum ActivateAction: Equatable {
        case none
        /// Write the bytes the other process left unwritten, then count the player and join it
        /// to its loop's fan-out.
        case resume(unwritten: ByteBuffer)
    }

    /// The other process let go at `now`: a resumed player streams from here on (unless its
    /// socket closed meanwhile: it never counted here).
    mutating func activate(isActive: Bool, now: NIODeadline) -> ActivateAction {
        switch self.life.activate(isActive: isActive) {
        case .none:
            return .none
        case .closedMeanwhile:
            self.state = .closed
            return .none
        case .resume(let unwritten):
            self.joinedAt = now
            return .resume(unwritten: unwritten)
        }
    }

    /// Where the player stands, for a hand-over; nil when it is not streaming (it cannot be handed
    /// over).
    var handOverState: HandoverState.Player? {
        guard case .streaming(let nextSeq, let format) = self.state, self.life.isServing else { return nil }
        return HandoverState.Player(
            nextSeq: nextSeq, format: format.rawValue, metaint: self.framer.metaint, untilMetadata: self.framer.untilMetadata,
            sentTitle: self.framer.sentTitle.map { Data($0.readableBytesView) }, awaitingStart: self.awaitingStart
        )
    }
}
