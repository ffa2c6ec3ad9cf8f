import CastyMedia

/// A player's connection as a pure value: what to do at each event (its request, the burst, each
/// segment, the socket falling behind, the stream's format changing, the connection closing).
/// Every method takes an event and returns the action for ``PlayerConnectionHandler`` to carry
/// out; no I/O, no clock, so it is tested without a channel.
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

    /// A new connection: waiting for its request.
    init() {}

    /// A player taken over from another process (a hand-over), streaming from `nextSeq`.
    init(resumingAt nextSeq: UInt64?, format: StreamFormat) {
        self.state = .streaming(nextSeq: nextSeq, format: format)
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

    /// The hub's join: the stream's format (the player's `Content-Type`'s) and the next number.
    /// Ogg streams carry their titles in their own comment headers: no ICY metadata in them.
    mutating func joined(format: StreamFormat, nextSeq: UInt64?, playerMetaint: Int) -> JoinAction {
        guard case .joining(let wantsMetadata, let headOnly) = self.state else {
            preconditionFailure("joined without a head: \(self.state)")
        }
        let metaint = wantsMetadata && format.carriesICYMetadata ? playerMetaint : nil
        if headOnly {
            self.state = .done
            return .writeHeadAndClose(metaint: metaint)
        }
        self.state = .streaming(nextSeq: nextSeq, format: format)
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
        /// The player had joined: leave the fan-out, uncount it, log its time.
        case leave
    }

    /// The connection closed.
    mutating func channelInactive() -> CloseAction {
        defer { self.state = .closed }
        switch self.state {
        case .streaming, .closing: return .leave
        case .idle, .joining, .done, .closed: return .none
        }
    }
}
