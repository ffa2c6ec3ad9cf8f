/// Limits that keep a decoder's memory bounded whatever its input.
///
/// The defaults suit real radios: no real head line comes near 8 KiB, no real head near 64 KiB,
/// and real metadata intervals are 8–64 KiB.
public struct ICYDecoderLimits: Hashable, Sendable {
    /// The longest single line of a head, without its line ending.
    public var maxHeaderLineLength: Int
    /// The longest head, status or request line and headers together.
    public var maxHeadLength: Int
    /// The largest `icy-metaint` accepted.
    public var maxMetaint: Int

    /// Creates limits; every value must be positive.
    public init(maxHeaderLineLength: Int = 8 * 1024, maxHeadLength: Int = 64 * 1024, maxMetaint: Int = 1024 * 1024) {
        precondition(maxHeaderLineLength > 0 && maxHeadLength > 0 && maxMetaint > 0, "ICY limits must be positive")
        self.maxHeaderLineLength = maxHeaderLineLength
        self.maxHeadLength = maxHeadLength
        self.maxMetaint = maxMetaint
    }
}
