/// An error found while decoding or encoding ICY, saying what was wrong and where.
///
/// `offset` is the position in the stream (bytes from the first byte ever fed to the decoder)
/// at which the problem starts, so that a log line can point at it.
public struct ICYError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// The first line of a reply is not `ICY <code> <reason>` or `HTTP/1.x <code> <reason>`.
        case malformedStatusLine
        /// The first line of a request is not `<METHOD> <target> HTTP/1.x`.
        case malformedRequestLine
        /// A header line is not `name: value`.
        case malformedHeaderLine
        /// A single line of the head is longer than the configured limit.
        case headerLineTooLong
        /// The whole head is longer than the configured limit.
        case headTooLong
        /// The reply has no `icy-metaint` header, and the decoder was not told to accept audio-only streams.
        case missingMetaint
        /// `icy-metaint` is not a number, is zero, or is larger than the configured limit.
        case invalidMetaint
        /// The reply's status code is not 2xx, so its body is not an ICY stream.
        case unexpectedStatus(code: Int)
        /// Metadata text does not fit in one block (255 × 16 bytes).
        case metadataTooLong
        /// The stream ended in the middle of a head, a segment or a metadata block.
        case truncated
    }

    /// What went wrong.
    public var kind: Kind
    /// Byte offset in the stream where the problem starts.
    public var offset: Int
    /// A human-readable explanation that a user can act on.
    public var detail: String

    /// Creates an error.
    public init(_ kind: Kind, offset: Int, detail: String) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        "ICY error at byte \(self.offset): \(self.detail)"
    }
}
