import CastyHandover
import CastyPeerProtocol
import CastyStream
import CastyTree
import NIOCore

/// A child peer's (or observer's) connection as a pure value: its join request, the directory's
/// decision, then the link (data frames, heartbeats, term and tree changes, leave, a hand-over)
/// until it closes. It holds all of the connection's state: the link and its share of the
/// hand-over (``life``). Every method takes an event and returns the action for
/// ``PeerConnectionHandler`` to carry out; the time is passed in, so it is tested without a
/// channel or a clock.
struct PeerConnectionStateMachine {
    /// An accepted link.
    struct Link: Equatable {
        var name: String
        var observer: Bool
        /// The link's protocol version: version 1 peers get no context or codec header frames.
        var version: Int
        /// The segment owed next (`nil`: whatever comes).
        var nextSeq: UInt64?
        /// When a frame was last written, for the heartbeats.
        var lastWrite: NIODeadline
        /// The depth and path the child was last told (in the accept head or a place frame).
        var depth = 0
        var path: [String] = []
        /// The child's join carried a term: it takes `term` frames (a fleet with a standby root).
        var takesTerm = false
    }

    enum State: Equatable {
        /// Waiting for the join request.
        case idle
        /// The request is valid; waiting for the directory's decision.
        case deciding(JoinRequest)
        /// Linked: frames flow.
        case linked(Link)
        /// This node ended the link with a leave; the channel closes shortly.
        case leaving(Link)
        /// Answered with a short reply (refused, redirected); the channel is closing.
        case answered
        /// The connection is closed.
        case closed
    }

    private(set) var state = State.idle
    /// Whether this process serves the connection, and the bytes given to its channel lately.
    var life: StreamingConnectionState

    /// A new connection: waiting for its join request. `tailCapacity`: the most bytes a
    /// hand-over can find unwritten in its channel.
    init(tailCapacity: Int = 1 << 20) {
        self.life = StreamingConnectionState(tailCapacity: tailCapacity)
    }

    /// A link taken over from another process (a hand-over): linked where `peer` says, after the
    /// `unwritten` bytes, once activated.
    init(resuming peer: HandoverState.Peer, unwritten: ByteBuffer, now: NIODeadline, tailCapacity: Int = 1 << 20) {
        self.state = .linked(
            Link(
                name: peer.name, observer: peer.observer, version: peer.version, nextSeq: peer.nextSeq, lastWrite: now,
                depth: peer.depth, path: peer.path, takesTerm: peer.takesTerm
            )
        )
        self.life = StreamingConnectionState(resuming: unwritten, tailCapacity: tailCapacity)
    }

    /// The link, while linked or leaving.
    var link: Link? {
        switch self.state {
        case .linked(let link), .leaving(let link): link
        default: nil
        }
    }

    // MARK: The join

    /// What to do with the request head.
    enum HeadAction: Equatable {
        /// Not a join request: `400` with this reason.
        case badRequest(String)
        /// This node takes no peers (it is not in a fleet): `404`.
        case takesNoPeers
        /// Ask the directory, then call ``joinDecided(_:streamIdentity:)``.
        case decide(JoinRequest)
        /// A head after the first: ignored.
        case ignore
    }

    /// The request head arrived: its target parsed as a join request, or the parse error.
    mutating func headReceived(_ request: Result<JoinRequest, any Error>, takesPeers: Bool) -> HeadAction {
        guard case .idle = self.state else { return .ignore }
        switch request {
        case .failure(let error):
            self.state = .answered
            return .badRequest("\(error)")
        case .success(let request):
            guard takesPeers else {
                self.state = .answered
                return .takesNoPeers
            }
            self.state = .deciding(request)
            return .decide(request)
        }
    }

    /// What to do with the directory's decision.
    enum DecisionAction: Equatable {
        /// Answer the refusal; `relocateSelf` when the joiner is an ancestor (this node's place
        /// is stale: it rejoins through the root).
        case refuse(JoinPolicy.Refusal, relocateSelf: Bool)
        /// Answer `307` to this node.
        case redirect(to: String)
        /// Take the hub's peer join from segment `from` (`nil`: the newest), write the accept
        /// head, then call ``accepted(nextSeq:codecHeadersKnown:now:)``.
        case accept(depth: Int, path: [String], version: Int, from: UInt64?)
    }

    /// The directory decided; `streamIdentity` is the stream this node follows (the joiner's
    /// `from` counts only within it).
    mutating func joinDecided(_ decision: JoinPolicy.Decision, streamIdentity: String) -> DecisionAction {
        guard case .deciding(let request) = self.state else { preconditionFailure("a decision without a join: \(self.state)") }
        switch decision {
        case .refuse(let refusal):
            self.state = .answered
            return .refuse(refusal, relocateSelf: refusal == .ancestor(request.name))
        case .redirect(let node):
            self.state = .answered
            return .redirect(to: node)
        case .accept(let depth, let path):
            let version = min(request.version, PeerProtocol.version)
            let link = Link(
                name: request.name, observer: request.observer, version: version, nextSeq: nil, lastWrite: .distantPast, depth: depth, path: path,
                takesTerm: request.term != nil
            )
            self.state = .linked(link)
            return .accept(depth: depth, path: path, version: version, from: request.stream == streamIdentity ? request.from : nil)
        }
    }

    /// What to do once the accept head is written.
    enum AcceptedAction: Equatable {
        /// Send the codec header pages (a version 2 link), then the catch-up.
        case sendCodecHeadersThenCatchUp
        /// Send the catch-up.
        case catchUp
    }

    /// The accept head is written; the first data frame will be `nextSeq`.
    mutating func accepted(nextSeq: UInt64?, codecHeadersKnown: Bool, now: NIODeadline) -> AcceptedAction {
        guard case .linked(var link) = self.state else { preconditionFailure("accepted without a link: \(self.state)") }
        link.nextSeq = nextSeq
        link.lastWrite = now
        self.state = .linked(link)
        return link.version >= 2 && codecHeadersKnown ? .sendCodecHeadersThenCatchUp : .catchUp
    }

    /// Segments up to `lastSeq` were written (the catch-up; `nil`: none).
    mutating func caughtUp(lastSeq: UInt64?, now: NIODeadline) {
        guard case .linked(var link) = self.state else { return }
        if let lastSeq { link.nextSeq = lastSeq + 1 }
        link.lastWrite = now
        self.state = .linked(link)
    }

    // MARK: The link

    /// What to do with a new segment.
    enum SegmentAction: Equatable {
        /// Already sent, or not linked.
        case skip
        /// Write the segments from `catchUpFrom` that the loop still has, then this one; then
        /// call ``written(isWritable:maxLagBytes:)``.
        case write(catchUpFrom: UInt64?)
    }

    /// Segment `seq` is being fanned out.
    mutating func segment(_ seq: UInt64, now: NIODeadline) -> SegmentAction {
        guard case .linked(var link) = self.state else { return .skip }
        var catchUpFrom: UInt64?
        if let next = link.nextSeq {
            if seq < next { return .skip }
            if seq > next { catchUpFrom = next }
        }
        link.nextSeq = seq + 1
        link.lastWrite = now
        self.state = .linked(link)
        return .write(catchUpFrom: catchUpFrom)
    }

    /// What to do after writing a segment.
    enum WrittenAction: Equatable {
        case none
        /// The child cannot keep up: count it and end the link with a leave.
        case leaveTooSlow(reason: String)
    }

    /// A segment was written and flushed; `isWritable` is the channel's writability after it.
    mutating func written(isWritable: Bool, maxLagBytes: Int) -> WrittenAction {
        guard case .linked = self.state, !isWritable else { return .none }
        return .leaveTooSlow(reason: "too slow: more than \(maxLagBytes) bytes behind")
    }

    /// What to do with a frame other than data.
    enum FrameAction: Equatable {
        case none
        /// Write and flush this frame.
        case send(PeerFrame)
    }

    /// The heartbeat timer fired: a link idle for three quarters of the interval gets a
    /// heartbeat naming `newestSeq`.
    mutating func heartbeatTick(newestSeq: UInt64, now: NIODeadline) -> FrameAction {
        guard case .linked(let link) = self.state,
            now - link.lastWrite >= .milliseconds(Int64(PeerProtocol.heartbeatIntervalMilliseconds) * 3 / 4)
        else { return .none }
        return self.send(.heartbeat(newestSeq: newestSeq), now: now)
    }

    /// This node follows a new root claim: a child that takes `term` frames hears of it.
    mutating func termChanged(_ claim: TermRule.Claim, now: NIODeadline) -> FrameAction {
        guard let link = self.link, link.takesTerm else { return .none }
        return self.send(.term(claim.term, root: claim.root), now: now)
    }

    /// The stream's context changed: a version 2 link hears of it.
    mutating func contextChanged(_ context: StreamContext, now: NIODeadline) -> FrameAction {
        guard let link = self.link, link.version >= 2 else { return .none }
        return self.send(.context(context.headers), now: now)
    }

    /// This node's place changed, so the child's is now `depth` and `path`: a version 3 link
    /// told another place hears its new one (a version 1 or 2 link cannot parse the frame; its
    /// child keeps a stale place until it rejoins).
    mutating func placeChanged(depth: Int, path: [String], now: NIODeadline) -> FrameAction {
        guard case .linked(var link) = self.state, link.version >= 3, link.depth != depth || link.path != path else { return .none }
        link.depth = depth
        link.path = path
        self.state = .linked(link)
        return self.send(.place(depth: depth, path: path), now: now)
    }

    /// Sends `frame` if linked, noting the time.
    mutating func send(_ frame: PeerFrame, now: NIODeadline) -> FrameAction {
        guard case .linked(var link) = self.state else { return .none }
        link.lastWrite = now
        self.state = .linked(link)
        return .send(frame)
    }

    /// What to do with a tree change.
    enum TreeAction: Equatable {
        case none
        /// Pass the change on.
        case send(PeerFrame)
        /// Pass the change on, then end the link: this child is the evicted node.
        case sendThenLeave(PeerFrame, reason: String)
    }

    /// The root announced `change`: passed on to the child; a child being evicted is sent away.
    mutating func treeChange(_ change: TreeChange, now: NIODeadline) -> TreeAction {
        guard case .send(let frame) = self.send(.tree(change), now: now) else { return .none }
        if case .evict(let node) = change, node == self.link?.name {
            return .sendThenLeave(frame, reason: "evicted by the root")
        }
        return .send(frame)
    }

    /// What to do to end the link.
    enum LeaveAction: Equatable {
        case none
        /// Send a leave frame with this reason, log, and close shortly after.
        case sendLeaveAndClose(reason: String)
    }

    /// This node ends the link (too slow, evicted, the stream changed): the child rejoins
    /// through the root, without reporting this node lost.
    mutating func leave(reason: String) -> LeaveAction {
        guard case .linked(let link) = self.state else { return .none }
        self.state = .leaving(link)
        return .sendLeaveAndClose(reason: reason)
    }

    /// The node shuts down: a linked child gets a leave (the channel is closed for it).
    mutating func shutdown(now: NIODeadline) -> FrameAction {
        self.send(.leave(reason: "node shutting down"), now: now)
    }

    // MARK: The end

    /// What to do when the connection closes.
    enum CloseAction: Equatable {
        case none
        /// The link ends: leave the fan-out and uncount it; a mirror's slot is freed; if the
        /// link died (this node did not end it), the child may be lost.
        case unlink(name: String, observer: Bool, died: Bool)
    }

    /// The connection closed. A close while the connection is resuming or handed over is not
    /// this process's: nothing to do.
    mutating func channelInactive() -> CloseAction {
        guard self.life.isServing else { return .none }
        defer { self.state = .closed }
        switch self.state {
        case .linked(let link): return .unlink(name: link.name, observer: link.observer, died: true)
        case .leaving(let link): return .unlink(name: link.name, observer: link.observer, died: false)
        case .idle, .deciding, .answered, .closed: return .none
        }
    }

    // MARK: Hand-over

    /// What to do when the connection is activated after a hand-over.
    enum ActivateAction: Equatable {
        case none
        /// Write the bytes the other process left unwritten, then count the link and join it to
        /// its loop's fan-out.
        case resume(unwritten: ByteBuffer)
        /// The socket closed during the hand-over: like a link that died (a mirror's slot is
        /// freed, and it may be lost).
        case closedMeanwhile(name: String, observer: Bool)
    }

    /// The other process let go: a resumed link is served from here on.
    mutating func activate(isActive: Bool) -> ActivateAction {
        switch self.life.activate(isActive: isActive) {
        case .none:
            return .none
        case .resume(let unwritten):
            return .resume(unwritten: unwritten)
        case .closedMeanwhile:
            defer { self.state = .closed }
            guard let link = self.link else { return .none }
            return .closedMeanwhile(name: link.name, observer: link.observer)
        }
    }

    /// Where the link stands, for a hand-over; nil when it is not linked (it cannot be handed
    /// over).
    var handOverState: HandoverState.Peer? {
        guard case .linked(let link) = self.state, self.life.isServing else { return nil }
        return HandoverState.Peer(
            name: link.name, observer: link.observer, version: link.version, nextSeq: link.nextSeq, depth: link.depth, path: link.path,
            takesTerm: link.takesTerm
        )
    }
}
