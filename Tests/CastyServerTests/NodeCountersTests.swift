import CastyStream
import NIOEmbedded
import Testing

@testable import CastyServer

@Suite struct NodeCountersTests {
    @Test func eventsMoveTheCountsTheStatusAndTheMetricsRead() {
        let counters = NodeCounters()
        counters.playerJoined()
        counters.playerJoined()
        counters.playerLeft()
        counters.peerJoined()
        counters.segmentTaken()
        counters.segmentTaken(afterLosing: 3)
        counters.sent(segments: 2, bytes: 500)
        counters.sent(segments: 0, bytes: 99)
        counters.droppedSlowListener()
        counters.reconnected()
        #expect(
            counters.values
                == NodeCounters.Values(
                    listeners: 1, peers: 1, segmentsIn: 2, segmentsOut: 2, bytesOut: 500, droppedSlowListeners: 1, lostSegments: 3, reconnects: 1
                )
        )
    }

    @Test func theMetricsExportReadsTheHubsCounters() {
        let hub = StreamHub(identity: StreamIdentity(value: "s"), nextSeq: 0, group: EmbeddedEventLoop(), logger: EmbeddedNode.quiet)
        let metrics = NodeMetrics(role: "mirror", name: "m1")
        hub.counters.sent(segments: 4, bytes: 1234)
        hub.counters.playerJoined()
        let first = String(decoding: metrics.render(hub: hub), as: UTF8.self)
        #expect(first.contains(#"casty_bytes_out_total{node="m1",role="mirror"} 1234"#), "\(first)")
        #expect(first.contains(#"casty_listeners{node="m1",role="mirror"} 1"#), "\(first)")
        hub.counters.sent(segments: 1, bytes: 6)
        hub.counters.reconnected()
        let second = String(decoding: metrics.render(hub: hub), as: UTF8.self)
        #expect(second.contains(#"casty_bytes_out_total{node="m1",role="mirror"} 1240"#), "\(second)")
        #expect(second.contains(#"casty_rejoins_total{node="m1",role="mirror"} 1"#), "\(second)")
    }
}
