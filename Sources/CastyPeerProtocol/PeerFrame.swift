import CastyICY
import NIOCore
import NIOHTTP1

/// One message from a parent to a child inside an accepted join's body.
///
/// On the wire every frame is `type (1 byte) | payload length (4 bytes, big endian) | payload`.
public enum PeerFrame: Equatable, Sendable {
    /// `data(N, segment)`: segment number `seq`. Payload: `seq (8 bytes BE) | metadata length
    /// (2 bytes BE) | metadata | audio`.
    case data(seq: UInt64, segment: ICYSegment)
    /// The parent is alive; `newestSeq` is the newest segment it has (`UInt64.max` if none).
    /// Payload: `newestSeq (8 bytes BE)`.
    case heartbeat(newestSeq: UInt64)
    /// The parent ends the link; the child must rejoin through the root. Payload: UTF-8 reason.
    case leave(reason: String)
    /// A change of the tree, passed down to every node: `evict` tells the parents of `node` to
    /// close their link to it; `relocate` tells `node` to rejoin through the root; `drain` says
    /// that `node` was removed from the fleet file (its parent frees its slot but keeps feeding
    /// it; `node` stops taking players and children, then leaves).
    /// Payload: `operation (1 byte) | UTF-8 node name`.
    case tree(TreeChange)
    /// The stream's context changed (the ingest reached the radio, or reconnected to it): the
    /// headers passed on to players from now on. Version 2. Payload: `Name: value\r\n` lines.
    case context(HTTPHeaders)
    /// The codec header pages (Ogg: the identification, comment and setup pages of the current
    /// logical stream) that a listener must get before the audio that follows. Version 2.
    /// Payload: the pages exactly as the radio sent them.
    case codecHeaders(ByteBuffer)
    /// The receiver's place in the tree changed because one of its ancestors moved: `depth` and
    /// `path` (its ancestors, root first, its parent last) are its new ones. Version 3.
    /// Payload: `depth (2 bytes BE) | path, comma-separated UTF-8`.
    case place(depth: Int, path: [String])
    /// The root the parent follows (a fleet with a standby root): its term and name, sent only
    /// to a child whose join had `term`. Payload: `term (8 bytes BE) | UTF-8 root name (1 to 255
    /// bytes)`.
    case term(UInt64, root: String)

    /// Frame type bytes.
    public enum Kind: UInt8, Sendable {
        case data = 0x01
        case heartbeat = 0x02
        case leave = 0x03
        case tree = 0x04
        case context = 0x05
        case codecHeaders = 0x06
        case place = 0x07
        case term = 0x08
    }

    /// The longest payload of a context frame.
    public static let maxContextBytes = 16 * 1024
    /// The longest payload of a place frame.
    public static let maxPlaceBytes = 16 * 1024
}

/// A change of the tree announced by the root.
public enum TreeChange: Equatable, Sendable {
    /// Parents of this node must drop it (it was declared failed).
    case evict(node: String)
    /// This node must rejoin through the root (its place in the tree changed).
    case relocate(node: String)
    /// This node was removed from the fleet: it drains, then leaves (operation 3).
    case drain(node: String)
}

/// A peer protocol violation, saying what was wrong.
public struct PeerProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "peer protocol error: \(self.message)" }
}

extension ByteBuffer {
    /// Writes one frame. Returns the bytes written.
    @discardableResult
    public mutating func writePeerFrame(_ frame: PeerFrame) -> Int {
        let start = self.writerIndex
        switch frame {
        case .data(let seq, let segment):
            self.writePeerDataFrameHeader(seq: seq, metadata: segment.metadata, audioBytes: segment.audio.readableBytes)
            self.writeImmutableBuffer(segment.audio)
        case .heartbeat(let newest):
            self.writeInteger(PeerFrame.Kind.heartbeat.rawValue)
            self.writeInteger(UInt32(8))
            self.writeInteger(newest)
        case .leave(let reason):
            let bytes = Array(reason.utf8.prefix(1024))
            self.writeInteger(PeerFrame.Kind.leave.rawValue)
            self.writeInteger(UInt32(bytes.count))
            self.writeBytes(bytes)
        case .tree(let change):
            let (operation, name): (UInt8, String) = switch change {
            case .evict(let node): (1, node)
            case .relocate(let node): (2, node)
            case .drain(let node): (3, node)
            }
            let bytes = Array(name.utf8.prefix(255))
            self.writeInteger(PeerFrame.Kind.tree.rawValue)
            self.writeInteger(UInt32(1 + bytes.count))
            self.writeInteger(operation)
            self.writeBytes(bytes)
        case .context(let headers):
            var lines = ByteBuffer()
            for (name, value) in headers {
                let line = "\(name): \(value)\r\n"
                guard lines.readableBytes + line.utf8.count <= PeerFrame.maxContextBytes else { break }
                lines.writeString(line)
            }
            self.writeInteger(PeerFrame.Kind.context.rawValue)
            self.writeInteger(UInt32(lines.readableBytes))
            self.writeImmutableBuffer(lines)
        case .codecHeaders(let pages):
            self.writeInteger(PeerFrame.Kind.codecHeaders.rawValue)
            self.writeInteger(UInt32(pages.readableBytes))
            self.writeImmutableBuffer(pages)
        case .place(let depth, let path):
            let bytes = Array(path.joined(separator: ",").utf8.prefix(PeerFrame.maxPlaceBytes - 2))
            self.writeInteger(PeerFrame.Kind.place.rawValue)
            self.writeInteger(UInt32(2 + bytes.count))
            self.writeInteger(UInt16(clamping: depth))
            self.writeBytes(bytes)
        case .term(let term, let root):
            let bytes = Array(root.utf8.prefix(255))
            self.writeInteger(PeerFrame.Kind.term.rawValue)
            self.writeInteger(UInt32(8 + bytes.count))
            self.writeInteger(term)
            self.writeBytes(bytes)
        }
        return self.writerIndex - start
    }

    /// The frame header of a data frame, so that a segment's audio can be sent as its own buffer
    /// (written once, shared by every child) right after it.
    public static func peerDataFrameHeader(seq: UInt64, metadata: ByteBuffer, audioBytes: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(15 + metadata.readableBytes)
        buffer.writePeerDataFrameHeader(seq: seq, metadata: metadata, audioBytes: audioBytes)
        return buffer
    }

    /// Writes a data frame's header: type, length, number and metadata; the audio follows.
    private mutating func writePeerDataFrameHeader(seq: UInt64, metadata: ByteBuffer, audioBytes: Int) {
        self.writeInteger(PeerFrame.Kind.data.rawValue)
        self.writeInteger(UInt32(8 + 2 + metadata.readableBytes + audioBytes))
        self.writeInteger(seq)
        self.writeInteger(UInt16(metadata.readableBytes))
        self.writeImmutableBuffer(metadata)
    }
}
