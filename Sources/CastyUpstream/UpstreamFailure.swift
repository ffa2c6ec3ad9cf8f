import CastyICY

/// Why an upstream transfer ended, in words an operator can act on.
public enum UpstreamFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// libcurl could not connect or the transfer failed (refused, DNS, TLS, reset, too many redirects…).
    case transport(code: Int, message: String)
    /// The upstream answered with a status other than 2xx.
    case status(code: Int, line: String)
    /// The body is not valid ICY (bad framing, a missing or invalid `icy-metaint`…).
    case framing(ICYError)
    /// No byte arrived for longer than the silence timeout.
    case silent(seconds: Double)
    /// The upstream closed the stream.
    case ended
    /// The parent ended the link on purpose (a leave frame, or this node was relocated).
    case left(reason: String)
    /// The URL is a playlist: these are the stream URLs it lists, in order.
    case playlist(entries: [String])
    /// The URL is not a stream Casty can relay (an HLS playlist, say); retrying will not help.
    case notAStream(String)

    public var description: String {
        switch self {
        case .transport(let code, let message): return "transfer failed: \(message) (curl error \(code))"
        case .status(_, let line): return "upstream answered '\(line)'"
        case .framing(let error): return "bad ICY stream: \(error)"
        case .silent(let seconds): return "upstream silent for \(seconds) s"
        case .ended: return "upstream closed the stream"
        case .left(let reason): return "parent ended the link: \(reason)"
        case .playlist(let entries): return "a playlist of \(entries.count) stream\(entries.count == 1 ? "" : "s")"
        case .notAStream(let message): return message
        }
    }
}

extension UpstreamFailure {
    /// What an operator should do when the very first attempt to reach `url` fails this way, in
    /// one sentence; `nil` for failures that say enough by themselves.
    public func firstAttemptAdvice(url: String) -> String? {
        switch self {
        case .transport(let code, let message):
            switch code {
            case 6: return "cannot resolve the host of \(url) (\(message)): check the URL; retrying with backoff"
            case 7: return "cannot connect to \(url) (\(message)): check the URL, or start the radio; retrying with backoff"
            case 28: return "\(url) did not answer in time (\(message)): check the URL and the network; retrying with backoff"
            case 35, 51, 58, 60, 77:
                return "TLS failed for \(url) (\(message)): check the URL, or give the radio's CA with --ca-file; retrying with backoff"
            default: return "cannot pull \(url) (\(message)): check the URL; retrying with backoff"
            }
        case .status(let code, let line) where code >= 400:
            return "\(url) answered '\(line)': check the URL's path (the radio's mount); retrying with backoff"
        default:
            return nil
        }
    }
}
