import CastyICY
import NIOCore
import NIOHTTP1

/// Decodes ``PeerFrame``s from bytes split anywhere. Each call checks whether the next whole
/// frame is buffered (5 header bytes, then the length they give) and returns it, or asks for more;
/// audio is a slice of the received bytes. Frames longer than ``PeerProtocol/maxFramePayload``
/// or of unknown type are errors, so memory stays bounded.
public struct PeerFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PeerFrame

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> PeerFrame? {
        guard buffer.readableBytes >= 5,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        guard let kind = PeerFrame.Kind(rawValue: type) else {
            throw PeerProtocolError("unknown frame type 0x\(String(type, radix: 16))")
        }
        guard length <= PeerProtocol.maxFramePayload else {
            throw PeerProtocolError("frame of \(length) bytes is longer than the limit of \(PeerProtocol.maxFramePayload)")
        }
        guard buffer.readableBytes >= 5 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        var payload = buffer.readSlice(length: Int(length))!
        switch kind {
        case .data:
            guard let seq = payload.readInteger(as: UInt64.self), let metadataLength = payload.readInteger(as: UInt16.self),
                let metadata = payload.readSlice(length: Int(metadataLength))
            else { throw PeerProtocolError("data frame too short for its header") }
            return .data(seq: seq, segment: ICYSegment(audio: payload, metadata: metadata))
        case .heartbeat:
            guard length == 8, let newest = payload.readInteger(as: UInt64.self) else {
                throw PeerProtocolError("heartbeat payload must be 8 bytes, not \(length)")
            }
            return .heartbeat(newestSeq: newest)
        case .leave:
            return .leave(reason: String(decoding: payload.readableBytesView, as: UTF8.self))
        case .tree:
            guard let operation = payload.readInteger(as: UInt8.self) else { throw PeerProtocolError("empty tree frame") }
            let name = String(decoding: payload.readableBytesView, as: UTF8.self)
            switch operation {
            case 1: return .tree(.evict(node: name))
            case 2: return .tree(.relocate(node: name))
            case 3: return .tree(.drain(node: name))
            default: throw PeerProtocolError("unknown tree operation \(operation)")
            }
        case .context:
            guard length <= PeerFrame.maxContextBytes else {
                throw PeerProtocolError("context frame of \(length) bytes is longer than the limit of \(PeerFrame.maxContextBytes)")
            }
            var headers = HTTPHeaders()
            for line in payload.readableBytesView.split(separator: UInt8(ascii: "\n")) {
                let text = ICYText.decode(line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...])
                guard let colon = text.firstIndex(of: ":") else {
                    throw PeerProtocolError("context line without a colon: \(text.prefix(80))")
                }
                headers.add(name: String(text[..<colon]), value: String(text[text.index(after: colon)...].drop { $0 == " " }))
            }
            return .context(headers)
        case .codecHeaders:
            return .codecHeaders(payload)
        case .place:
            guard length <= PeerFrame.maxPlaceBytes else {
                throw PeerProtocolError("place frame of \(length) bytes is longer than the limit of \(PeerFrame.maxPlaceBytes)")
            }
            guard let depth = payload.readInteger(as: UInt16.self), payload.readableBytes > 0 else {
                throw PeerProtocolError("place frame without a depth and a path")
            }
            let path = String(decoding: payload.readableBytesView, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard path.count == Int(depth), !path.contains(where: \.isEmpty) else {
                throw PeerProtocolError("place frame's depth \(depth) does not match its path of \(path.count) names")
            }
            return .place(depth: Int(depth), path: path)
        case .term:
            guard (9...(8 + 255)).contains(length), let term = payload.readInteger(as: UInt64.self) else {
                throw PeerProtocolError("term frame of \(length) bytes: it is 8 bytes of term and a root name of 1 to 255 bytes")
            }
            return .term(term, root: String(decoding: payload.readableBytesView, as: UTF8.self))
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PeerFrame? {
        if let frame = try self.decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw PeerProtocolError("the link ended \(buffer.readableBytes) bytes into a frame")
        }
        return nil
    }
}
