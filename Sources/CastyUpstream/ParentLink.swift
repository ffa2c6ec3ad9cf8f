import Atomics
import CastyMedia
import CastyPeerProtocol
import CastyStream
import CastyTree
import Logging

/// A mirror's link to its parent: joins through the root (libcurl follows the redirects to the
/// parent the tree has for it), receives frames, and when the link fails rejoins at once, asking
/// for the first segment it misses and naming the parent it lost, so the root can heal the tree.
/// Joins that fail one after another are spaced by a ``ReconnectBackoff`` (100 ms doubling to 2 s);
/// the transfers run on the thread of a ``TransferWorker``.
///
/// The link is not on a segment's path: each transfer's ``PeerStreamHandler`` hands data frames
/// straight to the ``ParentSink`` given to ``start(position:sink:onAccepted:onControl:onDown:)``,
/// and only the control frames to the link's event handling. To leave the parent now
/// (``relocate()``), the link ends the running transfer through its stop condition.
public final class ParentLink: Sendable {
    /// Where the mirror stands in the stream, asked before every join.
    public struct Position: Sendable {
        public var nextSeq: UInt64?
        public var stream: String?
        public init(nextSeq: UInt64?, stream: String?) {
            self.nextSeq = nextSeq
            self.stream = stream
        }
    }

    /// How long the link waits after consecutive failed joins: 100 ms, doubling up to 2 s, each
    /// delay jittered by up to half (so that joiners a busy root refused together spread out).
    static let rejoinBackoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(2), jitter: 0.5)

    /// Runs one transfer to its end on the worker's thread: the real one is
    /// ``CurlTransfer/run(stop:handler:)``; tests give a fake.
    typealias PerformTransfer = @Sendable (CurlTransfer, ManagedAtomic<Bool>, PeerStreamHandler) -> UpstreamFailure?

    private let name: String
    /// Where joins go: the root, or, in a fleet with a standby root, the two ingests, tried in
    /// turn after each failed join.
    private let rootURLs: [String]
    /// The names of the nodes at `rootURLs`, where known (the ingests of a fleet with a standby).
    private let rootNames: [String]
    /// The secret each join is signed with, read at each join (a reload may rotate it).
    private let secret: @Sendable () -> String
    /// Join as an observer (an ingest following the root), not as a mirror.
    private let observer: Bool
    /// The highest root term seen, sent with each join (`nil`: none is sent).
    private let term: (@Sendable () -> UInt64?)?
    private let logger: Logger
    private let worker: TransferWorker
    private let perform: PerformTransfer

    /// Creates the link of node `name`, joining through `rootURLs` (`http://host:port`; in a fleet
    /// with a standby root, both ingests): the first, and after each failed join the next one in
    /// turn. An `observer` link takes no child slot (an ingest following the root); `term` gives
    /// the highest root term seen, sent with each join; each join is signed with what `secret`
    /// returns then. `rootNames`, if given, names the nodes at `rootURLs`: a link to one of them
    /// that fails makes the next join go to the next one first.
    public convenience init(
        name: String,
        rootURLs: [String],
        rootNames: [String] = [],
        secret: @escaping @Sendable () -> String,
        observer: Bool = false,
        term: (@Sendable () -> UInt64?)? = nil,
        logger: Logger
    ) {
        self.init(
            name: name, rootURLs: rootURLs, rootNames: rootNames, secret: secret, observer: observer, term: term, logger: logger,
            backoff: Self.rejoinBackoff
        ) {
            $0.run(stop: $1, handler: $2)
        }
    }

    /// Creates a link that waits as `backoff` says between failed joins and runs each transfer with
    /// `perform`.
    convenience init(name: String, rootURL: String, secret: String, logger: Logger, backoff: ReconnectBackoff, perform: @escaping PerformTransfer) {
        self.init(name: name, rootURLs: [rootURL], secret: { secret }, logger: logger, backoff: backoff, perform: perform)
    }

    /// Creates a link through `rootURLs` that waits as `backoff` says between failed joins and
    /// runs each transfer with `perform`.
    init(
        name: String,
        rootURLs: [String],
        rootNames: [String] = [],
        secret: @escaping @Sendable () -> String,
        observer: Bool = false,
        term: (@Sendable () -> UInt64?)? = nil,
        logger: Logger,
        backoff: ReconnectBackoff,
        perform: @escaping PerformTransfer
    ) {
        precondition(!rootURLs.isEmpty, "a parent link needs a root to join through")
        self.name = name
        self.rootURLs = rootURLs
        self.rootNames = rootNames
        self.secret = secret
        self.observer = observer
        self.term = term
        self.logger = logger
        self.worker = TransferWorker(name: "casty-parent-link", backoff: backoff)
        self.perform = perform
    }

    /// Starts on a thread of its own; the sink and the callbacks are called there. Does nothing when
    /// the link was started or stopped before.
    ///
    /// - Parameters:
    ///   - position: where the node stands in the stream, asked before every join.
    ///   - sink: where the parent's segments go, straight from the transfer's handler.
    ///   - onAccepted: a parent's acceptance of a join.
    ///   - onControl: the parent's other frames (place, tree changes, heartbeats, context…), in
    ///     order with the segments.
    ///   - onDown: the cause, every time the link goes down (and the link rejoins).
    public func start(
        position: @escaping @Sendable () -> Position,
        sink: any ParentSink,
        onAccepted: @escaping @Sendable (ParentAcceptance) -> Void,
        onControl: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        self.worker.start { context in
            self.loop(context, position: position, sink: sink, onAccepted: onAccepted, onControl: onControl, onDown: onDown)
        }
    }

    /// Ends the current link and rejoins through the root (this node's place is stale): the
    /// transfer's stop condition is set, so the transfer ends within 50 ms and hands on nothing
    /// more; called from `onAccepted` or `onControl`, nothing more of that parent reaches the sink
    /// or the callbacks. Between two joins it does nothing.
    public func relocate() {
        self.worker.endTransfer()
    }

    /// Stops: ends the current link (within 50 ms) or the wait before the next join, and returns
    /// once the thread has ended. Suspends the calling task without blocking its thread; safe to
    /// call twice, or before ``start(position:sink:onAccepted:onControl:onDown:)``.
    public func stop() async {
        await self.worker.stop()
    }

    private func loop(
        _ context: TransferWorker.Context,
        position: @escaping @Sendable () -> Position,
        sink: any ParentSink,
        onAccepted: @escaping @Sendable (ParentAcceptance) -> Void,
        onControl: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        var lost: String?
        var rule = LostParentRule()
        var root = 0
        context.runAttempts { context in
            let here = position()
            let request = JoinRequest(
                name: self.name, from: here.nextSeq, stream: here.stream, lost: lost, observer: self.observer, term: self.term?(), secret: self.secret()
            )
            let transfer = CurlTransfer(
                configuration: .init(
                    url: self.rootURLs[root] + request.target,
                    userAgent: "Casty/\(CastyVersion.number) mirror \(self.name)",
                    connectTimeout: .seconds(1),
                    silenceTimeout: .milliseconds(PeerProtocol.silenceTimeoutMilliseconds)
                )
            )
            let handler = PeerStreamHandler(name: self.name, stop: context.stopFlag, sink: sink, onAccepted: { acceptance in
                self.logger.info(
                    "joined parent",
                    metadata: ["peer.parent": "\(acceptance.parent)", "peer.depth": "\(acceptance.depth)", "peer.next_seq": "\(acceptance.nextSeq.map(String.init) ?? "-")", "peer.lost": "\(lost ?? "-")"]
                )
                onAccepted(acceptance)
            }, onControl: onControl)
            let failure = self.perform(transfer, context.stopFlag, handler)
            if context.isStopping { return .stop }
            // Ended by ``relocate()``: the transfer was stopped, it did not fail.
            let relocated = failure == nil && context.transferWasEnded
            let parent = handler.acceptance?.parent
            // Report a parent as lost only when it failed (reset or silence), never after a leave
            // or a relocation, and after a protocol error only when the same parent sent one twice
            // in a row.
            let end: LostParentRule.LinkEnd = relocated || handler.endedOnPurpose ? .onPurpose : handler.endedOnProtocolError ? .protocolError : .failed
            lost = rule.linkEnded(parent: parent, end: end)
            let cause = relocated ? UpstreamFailure.left(reason: "this node's place in the tree is stale").description : failure?.description ?? "link ended"
            if case .status(403, _) = failure {
                // A mirror added to the fleet file before the root (or its parent) reloaded it, or
                // one removed from it, or a secret that differs.
                self.logger.warning(
                    "join refused (403): this mirror is not in the fleet file of the node that answered, or its secret differs; if it was just added, send that node SIGHUP; retrying",
                    metadata: ["cause": "\(cause)"]
                )
            } else {
                self.logger.warning("parent link down; rejoining", metadata: ["peer.parent": "\(parent ?? "-")", "cause": "\(cause)"])
            }
            onDown(cause)
            // A link that was accepted (or left on purpose) is rejoined at once, through the same
            // root unless that root was the parent that failed; joins that keep failing back off,
            // trying the roots in turn, except after a 503 (a node that may take the join soon: a
            // standby about to take over, a stale root checking the term).
            guard handler.acceptance == nil, !relocated else {
                if let lost, self.rootNames.indices.contains(root), self.rootNames[root] == lost {
                    root = (root + 1) % self.rootURLs.count
                }
                context.resetBackoff()
                return .now
            }
            if case .status(503, _)? = failure {} else { root = (root + 1) % self.rootURLs.count }
            return .backoff()
        }
    }
}
