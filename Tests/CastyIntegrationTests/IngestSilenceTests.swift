import Foundation
import Testing

extension IntegrationTests.Radios {
    /// `--silence-timeout`: a radio that stops sending without closing the connection (a hung
    /// encoder, a dead link with no reset). The ingest notices the silence, reconnects, and its
    /// players, who stay connected, get audio again.
    @Suite(.timeLimit(.minutes(2)))
    struct IngestSilenceTests {
        @Test func reconnectsWhenTheRadioFallsSilentWithoutClosing() async throws {
            let timeout = 2.0
            // How much later than the timeout the ingest may be connected again: its poll (50 ms),
            // the first retry's delay (a fraction of a second), the new connection, and a loaded
            // machine's slack.
            let margin = 3.0
            let folder = try Paths.temporaryFolder("casty-silence")
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            // The first connection gets 3 s of the radio, then nothing, and stays open.
            let radio = try await RawServer(folder: folder, file: mp3, contentType: "audio/mpeg", silentAfter: 3)
            defer { radio.process.stop() }
            let ingest = try await IngestNode(upstream: radio.url("/stream"), extraArguments: ["--silence-timeout", "\(Int(timeout))"])
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest to connect to the radio") { try await ingest.upstreamState() == "connected" }

            // A player for the whole test: through the silence and well after the reconnect.
            let answered = Latch()
            async let player = ingest.listen(metadata: true, seconds: 3 + timeout + margin + 4, answered: answered)
            try await eventually(within: 10, "the ingest to answer the player") { answered.isSet }

            try await eventually(within: 10, "the radio to fall silent") { radio.process.output().contains("falling silent") }
            let silent = Date()
            let seqSilent = try await ingest.seq() ?? -1
            #expect(ingest.process.output().components(separatedBy: "upstream connected").count - 1 == 1)

            // The ingest says why it reconnects, and is connected again within timeout + margin.
            try await eventually(within: timeout + margin, "the ingest to log the silence") {
                ingest.process.output().contains("upstream lost; reconnecting")
            }
            let log = ingest.process.output()
            let lost = try #require(log.split(separator: "\n").first { $0.contains("upstream lost; reconnecting") })
            #expect(lost.contains("upstream silent for"), "the cause is the silence: \(lost)")
            // Not sooner than the timeout, by the ingest's own measure.
            let quiet = lost.range(of: "upstream silent for ").flatMap { Double(lost[$0.upperBound...].prefix { $0.isNumber || $0 == "." }) }
            #expect(quiet.map { $0 >= timeout } == true, "the ingest waited \(quiet.map { "\($0) s" } ?? "?") of silence, the timeout is \(timeout) s")
            try await eventually(within: timeout + margin, "the ingest to connect to the radio again") {
                ingest.process.output().components(separatedBy: "upstream connected").count - 1 == 2
            }
            let reconnected = Date()
            let after = reconnected.timeIntervalSince(silent)
            #expect(after <= timeout + margin, "connected again \(after) s after the radio fell silent")
            try await eventually(within: 5, "the radio to see the silent connection closed") {
                radio.process.output().contains("the client closed the silent connection")
            }
            try await eventually(within: 5, "new segments after the reconnect") { (try await ingest.seq() ?? -1) > seqSilent + 1 }

            // The player stayed connected and got audio again.
            let received = try await player
            #expect(received.statusLine == "HTTP/1.0 200 OK")
            #expect(!received.closedByServer, "the player stays connected through the silence")
            let atReconnect = received.timeline.last { $0.seconds <= reconnected.timeIntervalSince(received.startedAt) }?.bodyBytes ?? 0
            let atEnd = received.timeline.last?.bodyBytes ?? 0
            #expect(atEnd - atReconnect > 32_000, "the player got \(atEnd - atReconnect) bytes after the reconnect")
            let (audio, _) = try received.audioAndTitles()
            #expect(audio.count > 64_000)
            #expect(ingest.process.isRunning)
            print("silence: the ingest was connected again \(String(format: "%.2f", after)) s after the radio fell silent (--silence-timeout \(Int(timeout)))")
        }
    }
}
