import CastyPeerProtocol
import Logging
import NIOEmbedded
import Testing

@testable import CastyServer

/// `/status.json`'s `upstream.state`: the status page and the integration tests read these texts.
@Suite struct UpstreamStateTests {
    @Test(arguments: [
        (UpstreamState.starting, "starting"),
        (.connecting, "connecting"),
        (.connected, "connected"),
        (.connectedTo("m2"), "connected to m2"),
        (.retrying(after: .milliseconds(250), cause: "the upstream closed the connection"), "retrying in 0.25 seconds: the upstream closed the connection"),
        (.retrying(after: .seconds(8), cause: "silent for 5 s"), "retrying in 8.0 seconds: silent for 5 s"),
        (.rejoining("the parent went silent"), "rejoining: the parent went silent"),
        (.idleOnDemand, "idle (on demand)"),
        (.stopped, "stopped"),
        (.refused("an HLS playlist"), "refused: an HLS playlist"),
    ])
    func rendersAsBefore(state: UpstreamState, text: String) {
        #expect(state.description == text)
    }

    @Test func theStatusReportsTheHubsUpstreamState() {
        let hub = StreamHub(group: EmbeddedEventLoop(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let info = NodeInfo(role: "ingest", name: "ingest", upstreamURL: "http://radio/")
        #expect(NodeStatus(info: info, hub: hub, directory: nil, fleetNodes: nil).upstream.state == "starting")
        hub.setUpstreamState(.retrying(after: .milliseconds(500), cause: "refused"))
        #expect(NodeStatus(info: info, hub: hub, directory: nil, fleetNodes: nil).upstream.state == "retrying in 0.5 seconds: refused")
    }
}
