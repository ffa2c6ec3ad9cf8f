/// Constants of Casty's peer protocol, version 1 (docs/PROTOCOL.md).
public enum PeerProtocol {
    /// The protocol version this build speaks.
    public static let version = 1
    /// The path of a join request.
    public static let joinPath = "/casty/v1/join"
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
