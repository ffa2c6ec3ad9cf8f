import Atomics
import CastyICY
import CastyPeerProtocol
import NIOCore

/// Decodes a parent's answer to a join: checks the reply head (`200`, protocol version, stream
/// identity), then cuts the body into frames: data frames go straight to its ``ParentSink`` (the
/// second of a segment's hops at a mirror, after ``CurlTransfer``), every other frame to the link's
/// event handling. Ends the transfer on a leave frame, or on a relocate frame that names this node.
///
/// When the link must leave its parent (its place is stale, or the parent is under a stale root),
/// the link sets the transfer's stop condition (``TransferWorker/endTransfer()``), which the
/// transfer polls: no bytes reach the handler after that. As that may happen while a control
/// frame is handled, the handler also reads the stop condition after each control frame, so that
/// no frame after it is handed on.
public final class PeerStreamHandler: CurlStreamHandler {
    /// What an accepted join says.
    public typealias Acceptance = ParentAcceptance

    private let name: String
    private let stop: ManagedAtomic<Bool>
    private let sink: any ParentSink
    private let onAccepted: (Acceptance) -> Void
    private let onControl: (PeerFrame) -> Void
    private var frames = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder(), maximumBufferSize: PeerProtocol.maxFramePayload + 5)
    /// The parent that accepted, once it has.
    public private(set) var acceptance: Acceptance?
    /// Whether the parent ended the link on purpose (so it did not fail).
    public private(set) var endedOnPurpose = false
    /// Whether the link ended on a frame that could not be decoded.
    public private(set) var endedOnProtocolError = false

    /// Creates a handler for node `name`.
    ///
    /// - Parameters:
    ///   - stop: the transfer's stop condition (``TransferWorker/Context/stopFlag``).
    ///   - sink: where data frames' segments go.
    ///   - onAccepted: the parent's acceptance, from the reply head.
    ///   - onControl: every frame but data frames and leaves, in order with the segments.
    public init(
        name: String,
        stop: ManagedAtomic<Bool>,
        sink: any ParentSink,
        onAccepted: @escaping (Acceptance) -> Void,
        onControl: @escaping (PeerFrame) -> Void
    ) {
        self.name = name
        self.stop = stop
        self.sink = sink
        self.onAccepted = onAccepted
        self.onControl = onControl
    }

    public func received(head: ICYResponseHead) throws(UpstreamFailure) {
        guard head.status.code == 200 else {
            throw .status(code: head.status.code, line: head.status.description)
        }
        guard let version = head.headers.first(name: PeerProtocol.versionHeader).flatMap({ Int($0) }),
            PeerProtocol.acceptedVersions.contains(version)
        else {
            throw .status(code: 200, line: "the parent does not speak Casty peer protocol \(PeerProtocol.version)")
        }
        guard let stream = head.headers.first(name: PeerProtocol.streamHeader), let parent = head.headers.first(name: PeerProtocol.parentHeader) else {
            throw .status(code: 200, line: "the parent's reply lacks \(PeerProtocol.streamHeader) or \(PeerProtocol.parentHeader)")
        }
        let acceptance = Acceptance(
            parent: parent,
            stream: stream,
            nextSeq: head.headers.first(name: PeerProtocol.nextSeqHeader).flatMap { UInt64($0) },
            depth: head.headers.first(name: PeerProtocol.depthHeader).flatMap { Int($0) } ?? 1,
            path: (head.headers.first(name: PeerProtocol.pathHeader) ?? parent).split(separator: ",").map(String.init),
            metadata: head.headers.first(name: PeerProtocol.metadataHeader).flatMap(PeerProtocol.percentDecode).map { ByteBuffer(bytes: $0) },
            head: head
        )
        self.acceptance = acceptance
        self.onAccepted(acceptance)
    }

    public func received(body: ByteBuffer) throws(UpstreamFailure) {
        var ended: UpstreamFailure?
        do {
            try self.frames.process(buffer: body) { frame in
                guard ended == nil else { return }
                switch frame {
                case .data(let seq, let segment):
                    self.sink.receive(seq: seq, segment: segment)
                case .leave(let reason):
                    self.endedOnPurpose = true
                    ended = .left(reason: reason)
                case .tree(.relocate(let node)) where node == self.name:
                    self.onControl(frame)
                    self.endedOnPurpose = true
                    ended = .left(reason: "relocated by the root")
                default:
                    self.onControl(frame)
                    if self.stop.load(ordering: .relaxed) {
                        // Its handling ended the link (or the link is stopped): nothing after it.
                        self.endedOnPurpose = true
                        ended = .left(reason: "this node's place in the tree is stale")
                    }
                }
            }
        } catch {
            self.endedOnProtocolError = true
            throw .transport(code: -1, message: "\(error)")
        }
        if let ended { throw ended }
    }

    public func finished() throws(UpstreamFailure) {}
}
