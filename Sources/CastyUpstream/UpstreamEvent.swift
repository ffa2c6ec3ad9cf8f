import CastyICY

/// What an upstream transfer hands back, in order: one head, then segments.
public enum UpstreamEvent: Sendable {
    /// The upstream answered; `framing` says how its body is cut.
    case connected(ICYResponseHead, framing: ICYFraming)
    /// The next segment of the body.
    case segment(ICYSegment)
}
