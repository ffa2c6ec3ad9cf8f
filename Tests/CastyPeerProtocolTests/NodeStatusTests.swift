import CastyPeerProtocol
import Foundation
import Testing

/// `/status.json` as other nodes and tools read it (docs/PROTOCOL.md, *Status*).
@Suite struct NodeStatusTests {
    static func mirror() -> NodeStatus {
        NodeStatus(
            role: "mirror", name: "m1", stream: "abcd", seq: nil, upstream: .init(url: "http://root/", state: "connected"),
            format: "mp3", listeners: 3, uptimeSeconds: 1.5, bytesOut: 10, droppedSlowListeners: 0, lostSegments: 2
        )
    }

    static func object(_ status: NodeStatus) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(status.json().utf8)) as? [String: Any])
    }

    @Test func twoWordNamesAreSnakeCaseAndAParentIsAlwaysWritten() throws {
        let object = try Self.object(Self.mirror())
        #expect(object["uptime_s"] as? Double == 1.5)
        #expect(object["bytes_out"] as? Int == 10)
        #expect(object["dropped_slow_listeners"] as? Int == 0)
        #expect(object["lost_segments"] as? Int == 2)
        // Before its first join a node has no parent: `null`, not absent.
        #expect(object["parent"] is NSNull)
        #expect(object["children"] as? [String] == [])
        // Absent optionals are left out: no segment yet, no tree, no term.
        for key in ["seq", "depth", "tree", "nodes", "root_url", "term", "root", "is_root", "title"] {
            #expect(object[key] == nil, "\(key)")
        }
    }

    @Test func theRootsFleetRoundTrips() throws {
        var status = Self.mirror()
        status.role = "ingest"
        status.tree = ["m1": "root"]
        status.nodes = [
            .init(name: "root", parent: Nullable(nil), depth: 0, listeners: 1, seq: 50, lag: 0, state: "up", url: "http://a/"),
            .init(name: "m1", parent: Nullable("root"), depth: 1, listeners: 3, seq: 42, lag: 8, state: "up", url: "http://b/"),
        ]
        status.isRoot = true
        let object = try Self.object(status)
        #expect(object["is_root"] as? Bool == true)
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.first?["parent"] is NSNull)
        let decoded = try JSONDecoder().decode(NodeStatus.self, from: Data(status.json().utf8))
        #expect(decoded.nodes?.map(\.name) == ["root", "m1"])
        #expect(decoded.nodes?.last?.parent.value == "root")
        #expect(decoded.nodes?.first?.parent.value == nil)
        #expect(decoded.tree == ["m1": "root"])
        #expect(decoded.json() == status.json())
    }
}
