import Foundation
import Testing

extension IntegrationTests.Radios {
    /// casty-ingest against a SHOUTcast-v1-style server that answers `ICY 200 OK`, and what happens
    /// when that upstream dies and comes back.
    @Suite(.timeLimit(.minutes(3)))
    struct IngestShoutcastTests {
        @Test func survivesUpstreamRestartWithMonotonicNumbering() async throws {
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let logs = try Paths.temporaryFolder("casty-shout")
            var upstream = try await ShoutcastServer(mp3: mp3, logFolder: logs, titleEvery: 1.5)
            let upstreamPort = upstream.port
            let ingest = try await IngestNode(upstream: upstream.url, extraArguments: ["--silence-timeout", "2"])
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest to connect upstream") { try await ingest.upstreamState() == "connected" }

            // A player stays connected for the whole test.
            let answered = Latch()
            async let player = ingest.listen(metadata: true, seconds: 16, answered: answered)

            try await eventually(within: 10, "the player answered and segments flowing") {
                guard answered.isSet else { return false }
                return (try await ingest.seq() ?? -1) >= 1
            }
            let seqBefore = try await ingest.seq() ?? -1
            #expect(seqBefore >= 1)
            let killAt = Date()
            upstream.process.stop(signal: SIGKILL)
            try await eventually(within: 10, "the ingest to notice the upstream is gone") { try await ingest.upstreamState().hasPrefix("retrying") }
            let seqWhileDown = try await ingest.seq() ?? -1
            #expect(seqWhileDown >= seqBefore)
            let killedAt = Date()

            // The radio stays away a moment longer (the ingest retries meanwhile): part of the
            // scenario, not a wait.
            try await Task.sleep(for: .seconds(1))
            upstream = try await ShoutcastServer(port: upstreamPort, mp3: mp3, logFolder: logs, titleEvery: 1.5)
            try await eventually(within: 12, "the ingest to reconnect") { try await ingest.upstreamState() == "connected" }
            try await eventually(within: 8, "new segments after the reconnect") { (try await ingest.seq() ?? -1) > seqWhileDown + 2 }
            let reconnected = Date().timeIntervalSince(killedAt)

            let received = try await player
            #expect(!received.closedByServer, "the player must stay connected through the upstream restart")
            #expect(received.statusLine == "HTTP/1.0 200 OK")
            let (audio, titles) = try received.audioAndTitles()
            #expect(audio.count > 100_000)
            #expect(titles.contains { $0.hasPrefix("Guns N' Roses - Don't Cry") }, "quotes in titles survive: \(titles)")
            // Audio kept flowing to the player after the upstream came back.
            let afterRestart = received.timeline.last { $0.seconds < 16 - 0.5 }?.bodyBytes ?? 0
            let atKill = received.timeline.last { $0.seconds < killAt.timeIntervalSince(received.startedAt) + 0.5 }?.bodyBytes ?? 0
            #expect(afterRestart > atKill + 16_000, "player received \(afterRestart - atKill) bytes after the restart (reconnected in \(reconnected) s)")
            #expect(ingest.process.isRunning)
            upstream.process.stop()
            #expect(ingest.process.output().contains("upstream lost; reconnecting"))
        }
    }
}
