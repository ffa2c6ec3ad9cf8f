import NIOCore

/// One unit of an ICY body: a run of audio bytes and the metadata that follows them.
///
/// `audio` is a slice of the buffer the bytes arrived in, never a copy. `metadata` is the text of
/// the metadata block with its zero padding removed; it is empty for the usual empty block (`k = 0`)
/// and in audio-only streams.
public struct ICYSegment: Hashable, Sendable {
    /// The audio bytes, exactly the stream's metadata interval long (or the audio-only segment size).
    public var audio: ByteBuffer
    /// The metadata text's bytes, padding removed; empty when the block was empty.
    public var metadata: ByteBuffer

    /// Creates a segment from audio and metadata bytes.
    public init(audio: ByteBuffer, metadata: ByteBuffer = ByteBuffer()) {
        self.audio = audio
        self.metadata = metadata
    }

    /// Creates a segment from audio bytes and metadata text.
    public init(audio: ByteBuffer, metadata: String) {
        self.init(audio: audio, metadata: ByteBuffer(string: metadata))
    }

    /// The metadata as text (UTF-8, or Latin-1 when the bytes are not valid UTF-8, as old servers send).
    public var metadataText: String {
        ICYText.decode(self.metadata.readableBytesView)
    }
}
