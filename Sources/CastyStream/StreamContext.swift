import CastyICY
import CastyPeerProtocol
import NIOHTTP1

/// What a node knows about the stream besides its audio: the upstream's descriptive headers
/// (`icy-name`, `icy-genre`, `icy-url`, `icy-br`, `content-type`, …), which every node passes on
/// to its players and children.
public struct StreamContext: Equatable, Sendable {
    /// The headers worth passing on, in the upstream's order.
    public var headers: HTTPHeaders

    /// Headers never passed on: framing and connection matters are each hop's own.
    static let hopByHop: Set<String> = [
        "icy-metaint", "icy-metadata", "content-length", "transfer-encoding", "connection", "keep-alive", "date", "server",
        "cache-control", "expires", "pragma", "set-cookie", "access-control-allow-origin",
        "access-control-allow-headers", "access-control-allow-methods", "access-control-expose-headers",
    ]

    /// Takes the descriptive headers of an upstream reply: a radio's, or a parent's join reply
    /// (whose own `Content-Type` names the peer protocol, not the audio, and is left out).
    public init(upstream head: ICYResponseHead) {
        self.headers = HTTPHeaders(
            head.headers.filter { name, value in
                let lower = name.lowercased()
                if lower == "content-type" && value == PeerProtocol.contentType { return false }
                return (lower.hasPrefix("icy-") || lower.hasPrefix("ice-") || lower == "content-type")
                    && !Self.hopByHop.contains(lower)
            }.map { ($0.name, $0.value) }
        )
    }

    /// Creates a context from headers as they are.
    public init(headers: HTTPHeaders = [:]) {
        self.headers = headers
    }

    /// `content-type`, `audio/mpeg` when the upstream did not say.
    public var contentType: String { self.headers.first(name: "content-type") ?? "audio/mpeg" }
    /// `icy-name`.
    public var name: String? { self.headers.first(name: "icy-name") }
    /// `icy-br` as a number of kbit/s, when the upstream gave a plain number.
    public var bitrate: Int? {
        self.headers.first(name: "icy-br").flatMap { Int($0.split(separator: ",").first ?? "") }
    }
}
