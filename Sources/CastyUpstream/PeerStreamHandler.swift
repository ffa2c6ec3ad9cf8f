import CastyICY
import CastyPeerProtocol
import NIOCore

/// Decodes a parent's answer to a join: checks the reply head (`200`, protocol version, stream
/// identity), then hands every frame on. Ends the transfer on a leave frame or when this node is
/// told to relocate.
public final class PeerStreamHandler: CurlStreamHandler {
    /// What an accepted join says.
    public typealias Acceptance = ParentAcceptance

    private let name: String
    private let onAccepted: (Acceptance) -> Void
    private let onFrame: (PeerFrame) -> Void
    private let shouldLeave: () -> Bool
    private var frames = NIOSingleStepByteToMessageProcessor(PeerFrameDecoder(), maximumBufferSize: PeerProtocol.maxFramePayload + 5)
    /// The parent that accepted, once it has.
    public private(set) var acceptance: Acceptance?
    /// Whether the parent ended the link on purpose (so it did not fail).
    public private(set) var endedOnPurpose = false
    /// Whether the link ended on a frame that could not be decoded.
    public private(set) var endedOnProtocolError = false

    /// Creates a handler for node `name`.
    public init(name: String, shouldLeave: @escaping () -> Bool = { false }, onAccepted: @escaping (Acceptance) -> Void, onFrame: @escaping (PeerFrame) -> Void) {
        self.shouldLeave = shouldLeave
        self.name = name
        self.onAccepted = onAccepted
        self.onFrame = onFrame
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
        if self.shouldLeave() {
            self.endedOnPurpose = true
            throw .left(reason: "this node's place in the tree is stale")
        }
        var ended: UpstreamFailure?
        do {
            try self.frames.process(buffer: body) { frame in
                guard ended == nil else { return }
                switch frame {
                case .leave(let reason):
                    self.endedOnPurpose = true
                    ended = .left(reason: reason)
                case .tree(.relocate(let node)) where node == self.name:
                    self.onFrame(frame)
                    self.endedOnPurpose = true
                    ended = .left(reason: "relocated by the root")
                default:
                    self.onFrame(frame)
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
