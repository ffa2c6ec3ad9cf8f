import CastyICY
import NIOCore

/// Cuts a run of segments into segments of exactly ``size`` bytes of audio, as a pure value.
///
/// A standby that takes over splices its own radio connection onto the old root's last byte.
/// Its own connection's segments are cut at other places than the old root's were, so after the
/// splice their borders are shifted from the old root's. That matters to a mirror that got one
/// more segment from the old root than the standby did (the old root died between writing it to
/// that mirror and to the standby): the mirror rejoins with the next number, and the standby's
/// segment of that number must start where the old root's would have. Cutting the spliced audio
/// at the radio's segment size from the old root's last border puts every border back where the
/// old root would have put it.
///
/// A metadata block (a title) rides on the first segment cut after the audio it followed, so it
/// comes at most one segment late and is never lost.
public struct SegmentRechunker: Sendable {
    /// The audio bytes of every segment cut.
    public let size: Int
    /// Audio received but not yet cut into a whole segment (fewer than `size` bytes).
    private var partial = ByteBuffer()
    /// A title received and not yet carried by a cut segment.
    private var metadata: ByteBuffer?

    /// A rechunker cutting segments of `size` bytes of audio.
    public init(size: Int) {
        precondition(size > 0, "SegmentRechunker needs a positive size")
        self.size = size
    }

    /// The audio held until the next segment is whole, in bytes.
    public var heldBytes: Int { self.partial.readableBytes }

    /// Takes the next segment; returns the whole segments it completes, in order.
    public mutating func process(_ segment: ICYSegment) -> [ICYSegment] {
        var incoming = segment.audio
        var out: [ICYSegment] = []
        while self.partial.readableBytes + incoming.readableBytes >= self.size {
            let audio: ByteBuffer
            if self.partial.readableBytes == 0 {
                audio = incoming.readSlice(length: self.size)!  // a slice: no copy
            } else {
                var joined = ByteBuffer()
                joined.reserveCapacity(self.size)
                joined.writeImmutableBuffer(self.partial)
                joined.writeImmutableBuffer(incoming.readSlice(length: self.size - self.partial.readableBytes)!)
                self.partial = ByteBuffer()
                audio = joined
            }
            out.append(ICYSegment(audio: audio, metadata: self.metadata ?? ByteBuffer()))
            self.metadata = nil
        }
        if incoming.readableBytes > 0 {
            if self.partial.readableBytes == 0 {
                self.partial = incoming
            } else {
                self.partial.writeImmutableBuffer(incoming)
            }
        }
        if segment.metadata.readableBytes > 0 { self.metadata = segment.metadata }
        return out
    }
}
