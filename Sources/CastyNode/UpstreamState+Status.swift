import CastyServer
import CastyUpstream

extension UpstreamState {
    /// The state `/status.json` reports for what the radio's puller says.
    init(_ status: UpstreamPuller.Status) {
        switch status {
        case .connecting: self = .connecting
        case .connected: self = .connected
        case .retrying(let delay, let cause): self = .retrying(after: delay, cause: cause)
        case .stopped: self = .stopped
        case .refused(let message): self = .refused(message)
        }
    }
}
