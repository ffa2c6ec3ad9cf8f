import CastyTree
import NIOPosix
import Testing

@testable import CastyServer

/// The fleet's node list at a standby that took over: the root is the standby.
@Suite struct FleetMonitorStandbyTests {
    @Test func theRootOfTheListIsTheNodeThatIsRoot() {
        let fleet = FleetFile(
            upstream: "http://127.0.0.1:9/stream", secret: "s", ingest: .init(name: "root", host: "127.0.0.1", port: 9),
            mirrors: [.init(name: "m1", host: "127.0.0.1", port: 10), .init(name: "m2", host: "127.0.0.1", port: 11)],
            standby: .init(name: "root2", host: "127.0.0.1", port: 12)
        )
        let monitor = FleetMonitor(fleet: fleet, client: ControlClient(group: MultiThreadedEventLoopGroup.singleton))
        let nodes = monitor.nodes(tree: ["m1": "root2", "m2": "m1"], root: (listeners: 1, seq: 5), rootName: "root2")
        #expect(nodes.first?.name == "root2")
        #expect(nodes.first?.url == "http://127.0.0.1:12/")
        #expect(!nodes.contains { $0.name == "root" })
        // Without a name, the fleet's ingest, as before.
        #expect(monitor.nodes(tree: [:], root: (listeners: 1, seq: 5)).first?.name == "root")
    }
}
