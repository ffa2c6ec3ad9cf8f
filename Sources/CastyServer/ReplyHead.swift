import CastyICY
import CastyMedia
import CastyPeerProtocol
import CastyStream
import CastyTree
import NIOCore
import NIOHTTP1

/// The one place that builds the heads a node answers with: a player's stream, a peer's accepted
/// join, and the short answers of ``PlainResponse``. Pure values; ``write(to:)`` gives the exact
/// bytes (`HTTP/1.0` status line, headers in order, blank line).
struct ReplyHead: Equatable {
    /// The status line and headers.
    var head: ICYResponseHead

    /// Response headers that let web players on other origins use the stream.
    static let corsHeaders: [(String, String)] = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", "icy-metaint, icy-name, icy-genre, icy-url, icy-br, icy-description, icy-pub, content-type"),
    ]

    /// A player's stream: `HTTP/1.0 200 OK` (every client accepts it; browsers accept nothing
    /// else), the audio's `Content-Type`, the context's other headers, `icy-metaint` when the
    /// player gets metadata blocks, and CORS for any origin.
    static func player(context: StreamContext, metaint: Int?) -> ReplyHead {
        var headers: [(String, String)] = [("Content-Type", context.contentType)]
        headers += context.headers.filter { $0.name.lowercased() != "content-type" }.map { ($0.name, $0.value) }
        if let metaint { headers.append(("icy-metaint", String(metaint))) }
        headers += [("Cache-Control", "no-cache, no-store"), ("Connection", "close"), ("Server", "Casty/\(CastyVersion.number)")]
        headers += Self.corsHeaders
        return ReplyHead(head: ICYResponseHead(status: .http10OK, headers: HTTPHeaders(headers)))
    }

    /// What an accepted join needs in its reply (see docs/PROTOCOL.md, `reply(N, context)`).
    struct PeerAccept: Equatable {
        /// The link's version: the lower of the joiner's and this node's.
        var version: Int
        var identity: StreamIdentity
        /// The accepting node's name.
        var parent: String
        /// The joiner's depth.
        var depth: Int
        /// The joiner's ancestors, root first.
        var path: [String]
        /// The first data frame's number; `nil` when this node has no stream yet.
        var nextSeq: UInt64?
        /// The metadata text in force at `nextSeq` (empty: none).
        var metadata: ByteBuffer
        var context: StreamContext
        /// The root claim the accepting node follows (a fleet with a standby root).
        var claim: TermRule.Claim? = nil
    }

    /// An accepted join: the peer protocol's `Content-Type`, the `Casty-*` headers, the context.
    static func peerAccept(_ accept: PeerAccept) -> ReplyHead {
        var headers: [(String, String)] = [
            ("Content-Type", PeerProtocol.contentType),
            (PeerProtocol.versionHeader, String(accept.version)),
            (PeerProtocol.streamHeader, accept.identity.value),
            (PeerProtocol.parentHeader, accept.parent),
            (PeerProtocol.depthHeader, String(accept.depth)),
            (PeerProtocol.pathHeader, accept.path.joined(separator: ",")),
        ]
        if let next = accept.nextSeq { headers.append((PeerProtocol.nextSeqHeader, String(next))) }
        if let claim = accept.claim {
            headers += [(PeerProtocol.termHeader, String(claim.term)), (PeerProtocol.rootHeader, claim.root)]
        }
        if accept.metadata.readableBytes > 0 {
            headers.append((PeerProtocol.metadataHeader, PeerProtocol.percentEncode(accept.metadata.readableBytesView)))
        }
        headers += accept.context.headers.map { ($0.name, $0.value) }
        headers += [("Cache-Control", "no-cache, no-store"), ("Connection", "close")]
        return ReplyHead(head: ICYResponseHead(status: .http10OK, headers: HTTPHeaders(headers)))
    }

    /// A short answer's head: `HTTP/1.0`, a `Content-Length`, `Connection: close`, the extra
    /// headers, and CORS for any origin unless the extra headers set it.
    static func plain(code: Int, reason: String, contentType: String, contentLength: Int, extraHeaders: [(String, String)]) -> ReplyHead {
        var headers: [(String, String)] = [("Content-Type", contentType), ("Content-Length", String(contentLength)), ("Connection", "close")]
        headers += extraHeaders
        if !extraHeaders.contains(where: { $0.0 == "Access-Control-Allow-Origin" }) {
            headers.append(("Access-Control-Allow-Origin", "*"))
        }
        return ReplyHead(head: ICYResponseHead(status: ICYStatusLine(protocolName: "HTTP/1.0", code: code, reason: reason), headers: HTTPHeaders(headers)))
    }

    /// Appends the head's bytes.
    func write(to buffer: inout ByteBuffer) {
        buffer.writeICYResponseHead(self.head)
    }

    /// The head's bytes in a new buffer.
    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 512)
        self.write(to: &buffer)
        return buffer
    }
}
