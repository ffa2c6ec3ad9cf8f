import CastyTree
import CastyServer
import Logging
import NIOConcurrencyHelpers
import NIOEmbedded
import Testing
import CastyTestSupport
import CastyTreeTestSupport

@testable import CastyNode

/// The fleet file's reload on SIGHUP, with the file given by the test (no signal, no disk).
@Suite(.timeLimit(.minutes(1))) struct FleetReloaderTests {
    static func fleet(_ names: [String], fanout: Int = 2, drain: Int? = nil) -> FleetFile {
        .test(mirrors: names.map { Int($0.dropFirst())! }, port: 8000, fanout: fanout, drainSeconds: drain)
    }

    /// What the next load returns.
    final class File: Sendable {
        let next = NIOLockedValueBox<Result<FleetFile, FleetFileError>>(.failure(FleetFileError(message: "unset")))
        func set(_ result: Result<FleetFile, FleetFileError>) { self.next.withLockedValue { $0 = result } }
        var load: FleetReloader.Load { { _ throws(FleetFileError) in try self.next.withLockedValue { $0 }.get() } }
    }

    @Test func aFileThatCannotBeTakenIsRefusedWithItsReasonAndTheOneInUseStays() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let hub = StreamHub(group: loop, logger: quiet)
        let directory = PeerDirectory(name: "root", fleet: Self.fleet(["m1", "m2", "m3"]))
        let file = File()
        let log = LogRecorder()
        let reloader = FleetReloader(path: "fleet.json", directory: directory, hub: hub, monitor: nil, logger: log.logger, load: file.load)

        file.set(.failure(FleetFileError(message: "fleet file 'fleet.json': not valid JSON")))
        #expect(!reloader.reload())
        #expect(log.all.last?.level == .error)
        #expect(log.all.last?.message == "fleet file refused; the fleet keeps the one in use")
        #expect(log.all.last?.metadata["reason"] == "fleet file 'fleet.json': not valid JSON")

        file.set(.success(Self.fleet(["m1", "m2", "m3"], fanout: 3)))
        #expect(!reloader.reload())
        #expect(log.all.last?.metadata["reason"]?.description.contains("\"fanout\" changed from 2 to 3") == true)
        #expect(directory.fleet == Self.fleet(["m1", "m2", "m3"]), "the file in use stays")

        file.set(.success(Self.fleet(["m1", "m2", "m3", "m4"])))
        #expect(reloader.reload())
        #expect(log.all.last?.message == "fleet file reloaded")
        #expect(log.all.last?.metadata["fleet.added"] == "m4")
        #expect(directory.fleet.mirrors.map(\.name) == ["m1", "m2", "m3", "m4"])
        #expect(directory.redirectURL(for: .init(name: "x", from: nil, stream: nil, secret: "s3cret"), to: "m4")?.hasPrefix("http://127.0.0.1:8004/") == true)
        await loop.shutdownGracefully()
    }

    @Test func aRemovedMirrorDrainsAndLeavesAtOnceWithoutPlayers() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let hub = StreamHub(group: loop, logger: quiet)
        let directory = PeerDirectory(name: "m2", fleet: Self.fleet(["m1", "m2", "m3"], drain: 60))
        let file = File()
        let log = LogRecorder()
        let reloader = FleetReloader(
            path: "fleet.json", directory: directory, hub: hub, monitor: nil, logger: log.logger, pollInterval: .milliseconds(5), load: file.load
        )
        file.set(.success(Self.fleet(["m1", "m3"], drain: 60)))
        #expect(reloader.reload())
        #expect(directory.isDraining)
        #expect(log.all.contains { $0.metadata["fleet.removed"] == "m2" })
        let started = ContinuousClock.now
        await reloader.drainWhenRemoved()
        #expect(ContinuousClock.now - started < atOnce, "no player and no child: it leaves at once, not after 60 s")
        #expect(directory.isDraining, "new players are refused")
        #expect(log.all.contains { $0.message.hasPrefix("draining: this mirror was removed") && $0.metadata["drain.seconds"] == "60" })
        #expect(log.all.last?.message == "drained: leaving the fleet")
        #expect(log.all.last?.metadata["drain.timed_out"] == "false")
        await loop.shutdownGracefully()
    }

    @Test func aDrainFrameFreesAChildsSlotOrDrainsTheMirrorItNames() async throws {
        try await ParentLinkServiceTests.Mirror.running { mirror in
            mirror.parent.accept(ParentLinkServiceTests.acceptance(stream: "s1", nextSeq: 5))
            var child = try await mirror.child()
            #expect(mirror.directory.place.children == ["m2"])
            mirror.parent.send(.tree(.drain(node: "m2")))
            #expect(mirror.directory.place.children.isEmpty, "the drained child's slot is free")
            #expect(!mirror.directory.isDraining)
            #expect(try await child.frames() == [.tree(.drain(node: "m2"))], "passed on to the children, whose link stays")
            mirror.parent.send(.tree(.drain(node: "m1")))
            #expect(mirror.directory.isDraining, "m1 itself drains: no new players")
        }
    }
}
