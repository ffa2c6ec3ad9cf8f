import Atomics
import CastyCore
import CastyPeerProtocol
import Dispatch
import Foundation
import Logging

/// A mirror's link to its parent: joins through the root (libcurl follows the redirects to the
/// parent the tree has for it), receives frames, and when the link fails rejoins at once, asking
/// for the first segment it misses and naming the parent it lost, so the root can heal the tree.
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

    private let name: String
    private let rootURL: String
    private let secret: String
    private let logger: Logger
    private let stopFlag = ManagedAtomic(false)
    private let relocateFlag = ManagedAtomic(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Creates the link of mirror `name`, joining through the root at `rootURL` (`http://host:port`).
    public init(name: String, rootURL: String, secret: String, logger: Logger) {
        self.name = name
        self.rootURL = rootURL
        self.secret = secret
        self.logger = logger
    }

    /// Starts on a thread of its own; the callbacks run there.
    public func start(
        position: @escaping @Sendable () -> Position,
        onAccepted: @escaping @Sendable (PeerStreamHandler.Acceptance) -> Void,
        onFrame: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        Thread { self.loop(position: position, onAccepted: onAccepted, onFrame: onFrame, onDown: onDown) }.start()
    }

    /// Ends the current link and rejoins through the root (this node's place is stale).
    public func relocate() {
        self.relocateFlag.store(true, ordering: .relaxed)
    }

    /// Stops and waits for the thread.
    public func stop() {
        if self.stopFlag.exchange(true, ordering: .relaxed) { return }
        self.wake.signal()
        self.finished.wait()
    }

    private func loop(
        position: @escaping @Sendable () -> Position,
        onAccepted: @escaping @Sendable (PeerStreamHandler.Acceptance) -> Void,
        onFrame: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        defer { self.finished.signal() }
        var lost: String?
        var failures = 0
        while !self.stopFlag.load(ordering: .relaxed) {
            self.relocateFlag.store(false, ordering: .relaxed)
            let here = position()
            let request = JoinRequest(name: self.name, from: here.nextSeq, stream: here.stream, lost: lost, secret: self.secret)
            let transfer = CurlTransfer(
                configuration: .init(
                    url: self.rootURL + request.target,
                    userAgent: "Casty/\(CastyVersion.number) mirror \(self.name)",
                    connectTimeout: .seconds(1),
                    silenceTimeout: .milliseconds(PeerProtocol.silenceTimeoutMilliseconds)
                )
            )
            let handler = PeerStreamHandler(name: self.name, shouldLeave: { self.relocateFlag.load(ordering: .relaxed) }, onAccepted: { acceptance in
                self.logger.info(
                    "joined parent",
                    metadata: ["peer.parent": "\(acceptance.parent)", "peer.depth": "\(acceptance.depth)", "peer.next_seq": "\(acceptance.nextSeq.map(String.init) ?? "-")", "peer.lost": "\(lost ?? "-")"]
                )
                onAccepted(acceptance)
            }, onFrame: onFrame)
            let failure = transfer.run(stop: self.stopFlag, handler: handler)
            if self.stopFlag.load(ordering: .relaxed) { break }
            let parent = handler.acceptance?.parent
            // Report a parent as lost only when it failed (reset or silence), never after a leave.
            lost = (parent != nil && !handler.endedOnPurpose) ? parent : nil
            failures = handler.acceptance == nil ? failures + 1 : 0
            let cause = failure?.description ?? "link ended"
            self.logger.warning("parent link down; rejoining", metadata: ["peer.parent": "\(parent ?? "-")", "cause": "\(cause)"])
            onDown(cause)
            if failures > 0 {
                let delay = min(50 << min(failures, 6), 2000)
                _ = self.wake.wait(timeout: .now() + .milliseconds(delay))
            }
        }
    }
}
