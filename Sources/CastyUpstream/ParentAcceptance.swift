import CastyICY
import NIOCore

/// What a parent's acceptance of a join says: who the parent is, which stream it serves, the
/// first segment it sends, this node's place in the tree, and what the stream is.
public struct ParentAcceptance: Sendable {
    /// The parent's name.
    public var parent: String
    /// The identity of the stream the parent serves.
    public var stream: String
    /// The number of the first segment the parent sends, if it has any.
    public var nextSeq: UInt64?
    /// This node's depth in the tree (the root's children are at 1).
    public var depth: Int
    /// This node's ancestors, root first.
    public var path: [String]
    /// The metadata text in force at segment `nextSeq` (the current title), if the parent had one.
    public var metadata: ByteBuffer?
    /// The parent's reply head, whose headers carry the stream's context.
    public var head: ICYResponseHead

    /// Creates an acceptance.
    public init(parent: String, stream: String, nextSeq: UInt64?, depth: Int, path: [String], metadata: ByteBuffer?, head: ICYResponseHead) {
        self.parent = parent
        self.stream = stream
        self.nextSeq = nextSeq
        self.depth = depth
        self.path = path
        self.metadata = metadata
        self.head = head
    }
}
