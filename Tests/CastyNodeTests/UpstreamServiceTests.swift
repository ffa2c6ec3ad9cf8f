import Atomics
import CastyStream
import CastyUpstream
import CastyICY
import CastyNode
import CastyServer
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import CastyTestSupport

/// The ingest's upstream service, over fake upstreams: no curl, no sockets.
@Suite(.timeLimit(.minutes(1))) struct UpstreamServiceTests {
    /// A hub on a one-thread group, shut down after `body`.
    func withHub(_ body: (StreamHub) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = StreamHub(identity: StreamIdentity(value: "s"), group: group, logger: quiet)
        do {
            try await body(hub)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    static let mp3Frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + Array(repeating: 0x55, count: 413)

    @Test func theSourcesStatusIsTheHubsUpstreamState() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            let service = UpstreamService(makeSource: sources.make, hub: hub, logger: quiet)
            #expect(hub.snapshot().upstream == .starting)
            try await whileRunning(service) {
                try await eventually("the source to start") { sources.last?.started == true }
                let source = try #require(sources.last)
                source.report(.connecting)
                #expect(hub.snapshot().upstream == .connecting)
                source.report(.connected)
                #expect(hub.snapshot().upstream == .connected)
                source.report(.retrying(after: .milliseconds(500), cause: "the upstream closed the connection"))
                #expect(hub.snapshot().upstream == .retrying(after: .milliseconds(500), cause: "the upstream closed the connection"))
                #expect(hub.snapshot().upstream.description == "retrying in 0.5 seconds: the upstream closed the connection")
                source.report(.stopped)
                #expect(hub.snapshot().upstream == .stopped)
            }
            #expect(sources.all.count == 1)
            #expect(sources.last?.stopped == true, "graceful shutdown stops the source")
        }
    }

    /// The service wires the source to the hub: the head and the segments go straight there.
    @Test func theRadiosHeadAndSegmentsFeedTheHub() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            try await whileRunning(UpstreamService(makeSource: sources.make, hub: hub, logger: quiet)) {
                try await eventually("the source to start") { sources.last?.started == true }
                let source = try #require(sources.last)
                let head = ICYResponseHead(status: .http10OK, headers: ["Content-Type": "audio/mpeg", "icy-name": "Test FM", "icy-br": "128"])
                source.connect(head)
                #expect(hub.context.name == "Test FM")
                let audio = ByteBuffer(bytes: Array((0..<4).map { _ in Self.mp3Frame }.joined()))
                source.send(ICYSegment(audio: audio))
                source.send(ICYSegment(audio: audio))
                #expect(hub.newestSeq == 1)
                #expect(hub.nextSeq == 2)
            }
        }
    }

    @Test func everyConnectionButTheFirstCountsAsAReconnect() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            try await whileRunning(UpstreamService(makeSource: sources.make, hub: hub, logger: quiet)) {
                try await eventually("the source to start") { sources.last?.started == true }
                let source = try #require(sources.last)
                source.report(.connecting)
                source.report(.connected)
                #expect(hub.counters.values.reconnects == 0, "the first connection is no reconnect")
                source.report(.retrying(after: .milliseconds(250), cause: "silent for 5 s"))
                source.report(.connecting)
                source.report(.connected)
                #expect(hub.counters.values.reconnects == 1)
                source.report(.connected)
                #expect(hub.counters.values.reconnects == 2)
            }
        }
    }

    @Test func aRefusedRadioEndsTheServiceWithItsMessage() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            let service = UpstreamService(makeSource: sources.make, hub: hub, logger: quiet)
            let message = "http://radio/live.m3u8 is an HLS playlist, which Casty cannot relay"
            let group = ServiceGroup(services: [service], logger: quiet)
            let run = Task { try await group.run() }
            try await eventually("the source to start") { sources.last?.started == true }
            sources.last?.report(.refused(message))
            // The group ends on its own: the service failed.
            await #expect(throws: UpstreamRefused(message: message)) { try await run.value }
            #expect(hub.snapshot().upstream == .refused(message))
            #expect(hub.snapshot().upstream.description == "refused: \(message)")
            #expect(sources.last?.stopped == true)
            #expect(UpstreamRefused(message: message).description == message, "the ingest's one-line error is the message")
        }
    }

    @Test func onDemandTheRadioIsPulledOnlyWhileSomeoneListens() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            let service = UpstreamService(makeSource: sources.make, hub: hub, onDemandIdle: .milliseconds(100), pollInterval: .milliseconds(5), logger: quiet)
            try await whileRunning(service) {
                try await eventually("the idle state") { hub.snapshot().upstream == .idleOnDemand }
                #expect(hub.snapshot().upstream.description == "idle (on demand)")
                // Nothing to wait on: that nothing happens is the point. 50 ms is ten of the
                // service's 5 ms polls.
                try await Task.sleep(for: .milliseconds(50))
                #expect(sources.all.isEmpty, "nobody listens: no connection")

                // A player arrives.
                hub.counters.playerJoined()
                try await eventually("a connection") { sources.all.count == 1 && sources.last?.started == true }
                let first = try #require(sources.last)
                first.report(.connected)
                #expect(hub.snapshot().upstream == .connected)

                // It leaves: the radio is dropped after the idle time.
                hub.counters.playerLeft()
                try await eventually("the disconnection") { first.stopped }
                try await eventually("the idle state again") { hub.snapshot().upstream == .idleOnDemand }
                #expect(sources.all.count == 1)

                // A child peer counts as a listener too; its connection is a reconnect.
                hub.counters.peerJoined()
                try await eventually("a second connection") { sources.all.count == 2 && sources.last?.started == true }
                sources.last?.report(.connected)
                #expect(hub.counters.values.reconnects == 1)
            }
            #expect(sources.last?.stopped == true, "graceful shutdown stops the running source")
        }
    }

    @Test func onDemandAListenerComingBackWithinTheIdleTimeKeepsTheConnection() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            let service = UpstreamService(makeSource: sources.make, hub: hub, onDemandIdle: .seconds(30), pollInterval: .milliseconds(5), logger: quiet)
            try await whileRunning(service) {
                hub.counters.playerJoined()
                try await eventually("a connection") { sources.last?.started == true }
                // A gap of ten 5 ms polls without a listener, then ten with one again: time that
                // must pass without anything happening (the point of the test), not a wait.
                hub.counters.playerLeft()
                try await Task.sleep(for: .milliseconds(50))
                hub.counters.playerJoined()
                try await Task.sleep(for: .milliseconds(50))
                #expect(sources.all.count == 1)
                #expect(sources.last?.stopped == false)
            }
        }
    }

    @Test func onDemandARefusedRadioEndsTheServiceToo() async throws {
        try await self.withHub { hub in
            let sources = FakeUpstreams()
            let service = UpstreamService(makeSource: sources.make, hub: hub, onDemandIdle: .seconds(1), pollInterval: .milliseconds(5), logger: quiet)
            let group = ServiceGroup(services: [service], logger: quiet)
            let run = Task { try await group.run() }
            hub.counters.playerJoined()
            try await eventually("a connection") { sources.last?.started == true }
            sources.last?.report(.refused("not a stream"))
            await #expect(throws: UpstreamRefused(message: "not a stream")) { try await run.value }
            #expect(hub.snapshot().upstream == .refused("not a stream"))
            #expect(sources.last?.stopped == true)
        }
    }
}
