import CastyMedia
import Foundation

/// What a node hands to the binary that takes over from it (`--take-over`), besides the sockets:
/// the stream it serves (so that the new process starts with the same numbering, titles and
/// recent segments) and, for each connection, what is needed to go on writing exactly where the
/// old process stopped.
///
/// The sockets travel beside it over the control socket (SCM_RIGHTS): socket 0 is the listening
/// one, socket `i + 1` belongs to `connections[i]`. The encoding is JSON, with
/// ``formatVersion`` first: a binary that cannot read a version refuses the hand-over, and the
/// old process keeps serving.
public struct HandoverState: Codable, Sendable, Equatable {
    /// The version of this layout. Grows whenever a field changes meaning or a required one is
    /// added.
    public static let currentFormatVersion = 1

    /// The layout version the sender wrote.
    public var formatVersion: Int
    /// The sender's `--version` string, for the logs.
    public var binaryVersion: String
    /// The node's name in the fleet.
    public var node: String
    /// The stream as the old process had it, if it had one.
    public var stream: Stream?
    /// The node's place in the tree (a mirror's parent, depth and ancestors), if it had one.
    public var place: Place?
    /// At the root: the tree, each mirror's parent by name.
    public var tree: [String: String]?
    /// The players and child peers, in the order of their sockets.
    public var connections: [Connection]

    /// Creates a state of the current layout.
    public init(binaryVersion: String, node: String, stream: Stream?, place: Place?, tree: [String: String]? = nil, connections: [Connection]) {
        self.formatVersion = Self.currentFormatVersion
        self.binaryVersion = binaryVersion
        self.node = node
        self.stream = stream
        self.place = place
        self.tree = tree
        self.connections = connections
    }

    /// The stream: what a child peer joining at the oldest kept segment would get.
    public struct Stream: Codable, Sendable, Equatable {
        /// The stream identity.
        public var identity: String
        /// The number the next segment will carry.
        public var nextSeq: UInt64?
        /// The upstream's descriptive headers, in order.
        public var context: [Header]
        /// The metadata text in force at the first kept segment.
        public var metadata: Data
        /// The Ogg header pages in force at the first kept segment.
        public var codecHeaders: Data?
        /// The kept segments, oldest first.
        public var segments: [Segment]

        /// Creates a stream.
        public init(identity: String, nextSeq: UInt64?, context: [Header], metadata: Data, codecHeaders: Data?, segments: [Segment]) {
            self.identity = identity
            self.nextSeq = nextSeq
            self.context = context
            self.metadata = metadata
            self.codecHeaders = codecHeaders
            self.segments = segments
        }
    }

    /// One header.
    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String

        /// Creates a header.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One numbered segment.
    public struct Segment: Codable, Sendable, Equatable {
        public var seq: UInt64
        public var audio: Data
        /// The metadata text of the block after the audio (empty: the empty block).
        public var metadata: Data

        /// Creates a segment.
        public init(seq: UInt64, audio: Data, metadata: Data) {
            self.seq = seq
            self.audio = audio
            self.metadata = metadata
        }
    }

    /// A mirror's place.
    public struct Place: Codable, Sendable, Equatable {
        public var parent: String
        public var depth: Int
        public var path: [String]

        /// Creates a place.
        public init(parent: String, depth: Int, path: [String]) {
            self.parent = parent
            self.depth = depth
            self.path = path
        }
    }

    /// One connection that was being served.
    public struct Connection: Codable, Sendable, Equatable {
        /// Bytes the old process had accepted for the socket but not yet written: the new process
        /// writes them first.
        public var unwritten: Data
        /// A player's state, for a player.
        public var player: Player?
        /// A child peer's state, for a child peer or an observer.
        public var peer: Peer?

        /// Creates a player's connection.
        public init(unwritten: Data, player: Player) {
            self.unwritten = unwritten
            self.player = player
            self.peer = nil
        }

        /// Creates a child peer's connection.
        public init(unwritten: Data, peer: Peer) {
            self.unwritten = unwritten
            self.player = nil
            self.peer = peer
        }
    }

    /// Where a player is: the next segment it is owed, and where it is in its ICY framing.
    public struct Player: Codable, Sendable, Equatable {
        /// The segment owed next (`nil`: whatever comes).
        public var nextSeq: UInt64?
        /// The format the player was announced (a ``StreamFormat`` raw value).
        public var format: String
        /// Its `icy-metaint`, if it takes metadata.
        public var metaint: Int?
        /// Audio bytes until its next metadata block.
        public var untilMetadata: Int
        /// The metadata text it last got in a block (`nil`: none yet).
        public var sentTitle: Data?
        /// Whether it has had no audio yet.
        public var awaitingStart: Bool

        /// Creates a player's state.
        public init(nextSeq: UInt64?, format: String, metaint: Int?, untilMetadata: Int, sentTitle: Data?, awaitingStart: Bool) {
            self.nextSeq = nextSeq
            self.format = format
            self.metaint = metaint
            self.untilMetadata = untilMetadata
            self.sentTitle = sentTitle
            self.awaitingStart = awaitingStart
        }
    }

    /// Where a child peer's link is.
    public struct Peer: Codable, Sendable, Equatable {
        public var name: String
        public var observer: Bool
        /// The link's protocol version.
        public var version: Int
        /// The segment owed next (`nil`: whatever comes).
        public var nextSeq: UInt64?
        /// The depth and path the child was last told.
        public var depth: Int
        public var path: [String]
        /// Whether the child takes `term` frames.
        public var takesTerm: Bool

        /// Creates a child peer's state.
        public init(name: String, observer: Bool, version: Int, nextSeq: UInt64?, depth: Int, path: [String], takesTerm: Bool) {
            self.name = name
            self.observer = observer
            self.version = version
            self.nextSeq = nextSeq
            self.depth = depth
            self.path = path
            self.takesTerm = takesTerm
        }
    }
}
