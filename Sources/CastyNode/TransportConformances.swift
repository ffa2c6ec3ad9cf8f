import CastyUpstream
import CastyPeerProtocol

// The real transports, libcurl's, as the sources the node's services drive. Their `stop()`
// suspends until their worker's thread has ended, without blocking a thread.

extension UpstreamPuller: UpstreamSource {}

extension ParentLink: ParentSource {}
