/// Constants of Casty's peer protocol, version 3 (docs/PROTOCOL.md).
public enum PeerProtocol {
    /// The protocol version this build speaks.
    public static let version = 3
    /// The versions this build accepts from a joiner (a joiner gets no frame of a later version
    /// than its own), and from a parent's reply.
    public static let acceptedVersions = 1...3
    /// The path of a join request.
    public static let joinPath = "/casty/v1/join"
    /// The path where an ingest of a fleet with a standby root says what it is.
    public static let rootPath = "/casty/v1/root"
    /// The reply header with the term of the root the accepting node follows.
    public static let termHeader = "Casty-Term"
    /// The reply header with the name of the root the accepting node follows.
    public static let rootHeader = "Casty-Root"
    /// The media type of an accepted join's body: a stream of ``PeerFrame``s.
    public static let contentType = "application/vnd.casty.segments"
    /// Header naming the protocol version, in a join reply (and optionally in requests).
    public static let versionHeader = "Casty-Version"
    /// Header naming the stream identity, in a join reply.
    public static let streamHeader = "Casty-Stream"
    /// Header with the number of the first segment the reply's body carries, in a join reply.
    public static let nextSeqHeader = "Casty-Next-Seq"
    /// Header naming the node that accepted the join, in a join reply.
    public static let parentHeader = "Casty-Parent"
    /// Header giving the joiner's depth (the parent's depth + 1), in a join reply.
    public static let depthHeader = "Casty-Depth"
    /// Header listing the joiner's ancestors, root first, comma-separated, in a join reply.
    public static let pathHeader = "Casty-Path"
    /// Header with the metadata text in force at the first segment the reply's body carries
    /// (`StreamTitle='…';`, percent-encoded byte for byte), in a join reply; absent when there
    /// is none.
    public static let metadataHeader = "Casty-Metadata"
    /// Longest accepted frame payload: a segment of 1 MiB audio plus its metadata and header.
    public static let maxFramePayload = 1024 * 1024 + 4096 + 16
    /// How often a parent sends a heartbeat when it has no data to send.
    public static let heartbeatIntervalMilliseconds = 200
    /// How long a child waits without any byte from its parent before it rejoins.
    public static let silenceTimeoutMilliseconds = 800
    /// How far a join's timestamp may be from the receiver's clock.
    public static let maxClockSkewSeconds = 60
    /// The longest nonce a node accepts, in bytes: it remembers the last 100,000 it saw, so their
    /// length bounds that memory (`<13-digit time>-<16 hex digits>` is 30 bytes).
    public static let maxNonceBytes = 64
}

extension PeerProtocol {
    /// Percent-encodes bytes as they are (RFC 3986 unreserved characters stay), so that text in
    /// any encoding fits in a header.
    public static func percentEncode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a percent-encoded text, or `nil` if an escape is malformed.
    public static func percentDecode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var bytes = text.utf8.makeIterator()
        while let byte = bytes.next() {
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard let high = bytes.next().flatMap(Self.hexValue), let low = bytes.next().flatMap(Self.hexValue) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
