import CastyTree
import NIOPosix
import Testing
import CastyTreeTestSupport

@testable import CastyControl

/// The fleet's node list at a standby that took over: the root is the standby.
@Suite struct FleetMonitorStandbyTests {
    @Test func theRootOfTheListIsTheNodeThatIsRoot() {
        let fleet = FleetFile.test(mirrors: 1...2, port: 9, standby: true, standbyPort: 12)
        let monitor = FleetMonitor(fleet: fleet, client: ControlClient(group: MultiThreadedEventLoopGroup.singleton))
        let nodes = monitor.nodes(tree: ["m1": "root2", "m2": "m1"], root: (listeners: 1, seq: 5), rootName: "root2")
        #expect(nodes.first?.name == "root2")
        #expect(nodes.first?.url == "http://127.0.0.1:12/")
        #expect(!nodes.contains { $0.name == "root" })
        // Without a name, the fleet's ingest, as before.
        #expect(monitor.nodes(tree: [:], root: (listeners: 1, seq: 5)).first?.name == "root")
    }
}
