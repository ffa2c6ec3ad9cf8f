import CastyICY
import NIOCore

/// Frames a listener's audio for a player: with `metaint`, a metadata block after every `metaint`
/// audio bytes (the current title when it changed since this player last got one, the empty
/// block otherwise); without, the audio alone.
///
/// One framer per player, because each player joins at its own point of the stream. The buffers
/// it emits are the segments' own slices and shared, pre-encoded blocks: nothing is copied.
public struct PlayerFramer: Sendable {
    /// The metadata interval announced to this player, or `nil` for a player that did not ask
    /// for metadata.
    public let metaint: Int?
    /// Audio bytes until the next metadata block.
    public private(set) var untilMetadata: Int
    private var sentTitleVersion: Int = -1
    /// The metadata text last sent in a block (`nil`: none yet). A title whose text is the one
    /// the player has (a new version of the same text) is not sent again.
    public private(set) var sentTitle: ByteBuffer?

    /// The empty metadata block, a single zero byte.
    public static let emptyBlock = ByteBuffer(bytes: [0])

    /// Creates a framer for a player; `metaint` must be positive when given.
    public init(metaint: Int?) {
        precondition(metaint.map { $0 > 0 } ?? true, "the metadata interval must be positive")
        self.metaint = metaint
        self.untilMetadata = metaint ?? 0
    }

    /// Resumes a player's framing where another process left it (a hand-over): `untilMetadata`
    /// audio bytes before its next block, having last been sent `sentTitle`.
    public init(metaint: Int?, untilMetadata: Int, sentTitle: ByteBuffer?) {
        self.init(metaint: metaint)
        if let metaint { self.untilMetadata = min(max(untilMetadata, 1), metaint) }
        self.sentTitle = sentTitle
    }

    /// Emits `audio` framed for this player, in order, through `emit`.
    ///
    /// - Parameters:
    ///   - audio: the next audio bytes of the stream for this player.
    ///   - title: the current title block, built once for all players.
    ///   - emit: receives each buffer to write, in order.
    public mutating func frame(_ audio: ByteBuffer, title: TitleBlock, emit: (ByteBuffer) -> Void) {
        guard let metaint = self.metaint else {
            emit(audio)
            return
        }
        var rest = audio
        while rest.readableBytes > 0 {
            if rest.readableBytes < self.untilMetadata {
                self.untilMetadata -= rest.readableBytes
                emit(rest)
                return
            }
            emit(rest.readSlice(length: self.untilMetadata)!)
            if title.version != self.sentTitleVersion && title.text != self.sentTitle {
                self.sentTitleVersion = title.version
                self.sentTitle = title.text
                emit(title.block)
            } else {
                self.sentTitleVersion = title.version
                emit(Self.emptyBlock)
            }
            self.untilMetadata = metaint
        }
    }
}

/// The stream's current metadata, encoded once as a block, with a version that changes whenever
/// the text does.
public struct TitleBlock: Hashable, Sendable {
    /// Grows by one at every change.
    public var version: Int
    /// The metadata text, such as `StreamTitle='Artist - Song';`.
    public var text: ByteBuffer
    /// `text` as a metadata block (length byte, text, padding).
    public var block: ByteBuffer

    /// No title yet: version 0 and the empty block.
    public init() {
        self.version = 0
        self.text = ByteBuffer()
        self.block = PlayerFramer.emptyBlock
    }

    /// Updates to `text` if it differs from the current text. Text too long for one block is
    /// refused (the old title stays), never cut.
    public mutating func update(_ text: ByteBuffer) throws(ICYError) {
        guard text != self.text else { return }
        var block = ByteBuffer()
        try block.writeICYMetadataBlock(text.readableBytesView)
        self.text = text
        self.block = block
        self.version += 1
    }

    /// The title as text, for logs and status: read as players read it, UTF-8 when the bytes are
    /// valid UTF-8 and Latin-1 otherwise (Icecast sends MP3 mounts' titles in Latin-1).
    public var title: String? {
        ICYMetadata(parsing: ICYText.decode(self.text.readableBytesView)).streamTitle
    }
}
