import CastyICY
import CastyStream

/// What a radio's transfer tells its puller, once each: how the connection went, never a segment
/// (segments go straight from the ``ICYStreamHandler`` to its ``RadioSink``).
public enum UpstreamEvent: Sendable, Equatable {
    /// The radio answered; `framing` says how its body is cut.
    case connected(ICYResponseHead, framing: ICYFraming)
    /// The splice after a reconnect was decided: what the radio sent again was dropped, or its
    /// audio does not continue the last connection's.
    case spliced(ReconnectSplicer.Outcome)
}
