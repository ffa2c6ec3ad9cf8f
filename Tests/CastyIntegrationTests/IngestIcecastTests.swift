import Foundation
import Testing

extension IntegrationTests.Radios {
    /// casty-ingest relaying the local Icecast test radio, checked by players reading real sockets.
    @Suite(.timeLimit(.minutes(3)))
    struct IngestIcecastTests {
        @Test func relaysIcecastByteForByteWithEveryTitle() async throws {
            let radio = try await TestRadio(trackSeconds: 5)
            defer { radio.stop() }
            let ingest = try await IngestNode(upstream: radio.url)
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest to connect upstream") { try await ingest.upstreamState() == "connected" }
            try await eventually(within: 10, "the ring to hold Icecast's burst") { (try await ingest.seq() ?? 0) >= 5 }

            // Three players over the same span: one straight from Icecast, two through Casty.
            let radioPort = radio.port
            async let direct = onThread {
                try StreamClient.fetch(port: radioPort, request: StreamClient.playerRequest(path: "/stream", metadata: true), seconds: 14)
            }
            async let relayed = ingest.listen(metadata: true, seconds: 12)
            async let plain = ingest.listen(metadata: false, seconds: 12)
            let (directReceived, relayedReceived, plainReceived) = try await (direct, relayed, plain)

            // Framing: HTTP/1.0 status for browsers, the context's headers, Casty's own metaint.
            #expect(relayedReceived.statusLine == "HTTP/1.0 200 OK")
            #expect(relayedReceived.header("icy-metaint") == "16000")
            #expect(relayedReceived.header("icy-name") == "Casty Test Radio")
            #expect(relayedReceived.header("icy-br") == "128")
            #expect(relayedReceived.header("content-type") == "audio/mpeg")
            #expect(relayedReceived.header("access-control-allow-origin") == "*")
            #expect(plainReceived.header("icy-metaint") == nil)

            let (directAudio, directTitles) = try directReceived.audioAndTitles()
            let (relayedAudio, relayedTitles) = try relayedReceived.audioAndTitles()
            let plainAudio = plainReceived.body

            // Every title Icecast announced while the relayed audio played reaches the player, in order.
            let distinctRelayed = relayedTitles.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
            #expect(distinctRelayed.count >= 2, "titles seen: \(relayedTitles)")
            #expect(Set(relayedTitles).isSubset(of: Set(directTitles + ["Casty - Casty Test Tone 1", "Casty - Casty Test Tone 2", "Casty - Casty Test Tone 3"])))

            // The audio is Icecast's, byte for byte, with and without metadata, and starts on a frame.
            let comparedRelayed = try assertSameAudio(relayedAudio, in: directAudio)
            let comparedPlain = try assertSameAudio(plainAudio, in: directAudio)
            #expect(comparedRelayed > 100_000)
            #expect(comparedPlain > 100_000)
            #expect(Array(plainAudio.prefix(2)) == [0xFF, 0xFB], "the burst starts on an MPEG frame header")

            // A real decoder takes the pure-audio stream without a single error.
            let file = try Paths.temporaryFolder("casty-plain").appendingPathComponent("plain.mp3")
            try Data(plainAudio).write(to: file)
            let decoded = try await onThread { try runCommand("/usr/bin/mpg123", ["-t", file.path]) }
            #expect(decoded.status == 0)
            #expect(!decoded.output.lowercased().contains("error") && !decoded.output.contains("Illegal"), "\(decoded.output)")

            // The burst lets a player start at once: the first 64 KiB arrive well within a second.
            let firstAudio = relayedReceived.timeline.first { $0.bodyBytes >= 64 * 1024 }
            #expect(firstAudio.map { $0.seconds < 1 } == true)
            #expect(ingest.process.isRunning)
        }

        @Test func realPlayersDecodeTheStreamAndSplitItByTitle() async throws {
            let radio = try await TestRadio(trackSeconds: 4)
            defer { radio.stop() }
            let ingest = try await IngestNode(upstream: radio.url)
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest to connect upstream") { try await ingest.upstreamState() == "connected" }
            let url = "http://127.0.0.1:\(ingest.port)/"

            // mpg123 plays ~10 s of the relayed stream with metadata: no decode error, titles shown.
            let mpg123 = try await onThread { try runCommand("/usr/bin/mpg123", ["-t", "-v", "-n", "380", url]) }
            #expect(mpg123.status == 0, "\(mpg123.output)")
            #expect(mpg123.output.contains("ICY-META: StreamTitle='Casty - Casty Test Tone"), "\(mpg123.output)")
            #expect(!mpg123.output.lowercased().contains("error"), "\(mpg123.output)")

            // streamripper splits it into tracks named by title.
            let folder = try Paths.temporaryFolder("casty-rip")
            let rip = try await onThread { try runCommand("/usr/bin/streamripper", [url, "-l", "18", "-d", folder.path, "-s", "--quiet"]) }
            let tracks = (try FileManager.default.contentsOfDirectory(atPath: folder.path)).filter { $0.hasSuffix(".mp3") }
            #expect(!tracks.isEmpty, "streamripper wrote no complete track: \(rip.output.suffix(500))")
            #expect(tracks.allSatisfy { $0.hasPrefix("Casty - Casty Test Tone") }, "\(tracks)")
        }
    }
}
