/// What an ``ICYResponseDecoder`` hands back: the reply head once, then segment after segment.
public enum ICYResponsePart: Equatable, Sendable {
    /// The status line and headers; `framing` says how the body that follows is cut.
    case head(ICYResponseHead, framing: ICYFraming)
    /// One segment of the body.
    case segment(ICYSegment)
}
