import Foundation
import Testing

extension IntegrationTests.Radios {
    /// What real radios answer besides plain Icecast: directory redirects, https, HTTP/1.1 chunked
    /// bodies, streams without metadata; and players too slow to keep up.
    @Suite(.timeLimit(.minutes(3)))
    struct IngestUpstreamVariantsTests {
        @Test func followsARedirectToAChunkedHTTPSStream() async throws {
            let folder = try Paths.temporaryFolder("casty-tls")
            let cert = folder.appendingPathComponent("cert.pem").path
            let key = folder.appendingPathComponent("key.pem").path
            let made = try await onThread {
                try runCommand("/usr/bin/openssl", [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                ])
            }
            #expect(made.status == 0, "\(made.output)")
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let tls = try await ShoutcastServer(mp3: mp3, logFolder: folder, titleEvery: 1, extraArguments: ["--chunked", "--tls-cert", cert, "--tls-key", key])
            let directory = try await ShoutcastServer(mp3: mp3, logFolder: folder, extraArguments: ["--redirect-to", "https://127.0.0.1:\(tls.port)/"])
            defer {
                tls.process.stop()
                directory.process.stop()
            }
            let ingest = try await IngestNode(upstream: directory.url, extraArguments: ["--ca-file", cert])
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest to connect through the redirect") { try await ingest.upstreamState() == "connected" }

            let received = try await ingest.listen(metadata: true, seconds: 5)
            let (audio, titles) = try received.audioAndTitles()
            #expect(audio.count > 40_000, "got \(audio.count) audio bytes")
            #expect(!titles.isEmpty)
            #expect(ingest.process.output().contains("upstream.status=HTTP/1.1 200 OK"))
            #expect(directory.process.output().contains("redirected to https://"))
        }

        @Test func cutsAStreamWithoutMetadataIntoFixedSegments() async throws {
            let folder = try Paths.temporaryFolder("casty-nometa")
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let upstream = try await ShoutcastServer(mp3: mp3, logFolder: folder, extraArguments: ["--no-metaint"])
            defer { upstream.process.stop() }
            let ingest = try await IngestNode(upstream: upstream.url)
            defer { ingest.process.stop() }
            try await eventually(within: 10, "segments from a stream without icy-metaint") { (try await ingest.seq() ?? -1) >= 1 }
            #expect(ingest.process.output().contains("audioOnly(segmentSize: 16000)"))

            async let withMetadata = ingest.listen(metadata: true, seconds: 4)
            async let plain = ingest.listen(metadata: false, seconds: 4)
            let (framed, pure) = try await (withMetadata, plain)
            #expect(framed.header("icy-metaint") == "16000")
            let (audio, titles) = try framed.audioAndTitles()
            #expect(audio.count > 30_000)
            #expect(titles.isEmpty, "a stream without metadata has no titles")
            _ = try assertSameAudio(pure.body, in: audio + Array(repeating: 0, count: 0), window: 8 * 1024)
        }

        @Test func dropsAPlayerThatStopsReadingWithoutHurtingTheOthers() async throws {
            let folder = try Paths.temporaryFolder("casty-slow")
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let upstream = try await ShoutcastServer(mp3: mp3, logFolder: folder)
            defer { upstream.process.stop() }
            let ingest = try await IngestNode(upstream: upstream.url, extraArguments: ["--max-listener-lag", "32768", "--socket-send-buffer", "4096", "--burst-bytes", "16384"])
            defer { ingest.process.stop() }
            try await eventually(within: 10, "a few segments") { (try await ingest.seq() ?? -1) >= 4 }

            let port = ingest.port
            async let stalled = onThread { try StreamClient.stall(port: port, request: StreamClient.playerRequest(metadata: true), seconds: 7) }
            async let healthy = ingest.listen(metadata: true, seconds: 8)
            let (wasClosed, player) = try await (stalled, healthy)

            #expect(wasClosed, "the player that never reads must be dropped")
            #expect(ingest.process.output().contains("dropping listener"))
            let status = try await ingest.status()
            #expect((status["dropped_slow_listeners"] as? Int ?? 0) >= 1)
            // The healthy player kept receiving at the stream's pace (8192-byte segments every ~0.5 s).
            let afterBurst = player.timeline.filter { $0.seconds > 2 }
            let rate = Double((afterBurst.last?.bodyBytes ?? 0) - (afterBurst.first?.bodyBytes ?? 0)) / max(0.1, (afterBurst.last?.seconds ?? 0) - (afterBurst.first?.seconds ?? 0))
            #expect(rate > 12_000, "healthy player got \(rate) bytes/s")
            #expect(!player.closedByServer)
            try await eventually(within: 5, "every player to be released") { (try await ingest.status()["listeners"] as? Int) == 0 }
        }
    }

    /// `--on-demand`: the upstream is pulled only while someone listens.
    @Suite(.timeLimit(.minutes(2)))
    struct IngestOnDemandTests {
        @Test func connectsUpstreamOnlyWhileSomeoneListens() async throws {
            let folder = try Paths.temporaryFolder("casty-ondemand")
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let upstream = try await ShoutcastServer(mp3: mp3, logFolder: folder)
            defer { upstream.process.stop() }
            let ingest = try await IngestNode(upstream: upstream.url, extraArguments: ["--on-demand", "--idle-seconds", "1"])
            defer { ingest.process.stop() }
            try await eventually(within: 10, "the ingest idle") { try await ingest.upstreamState() == "idle (on demand)" }
            #expect(!upstream.process.output().contains("connected (metadata"), "nobody listens yet: no upstream connection")

            let received = try await ingest.listen(metadata: true, seconds: 4)
            let (audio, _) = try received.audioAndTitles()
            #expect(audio.count > 16_000, "the player got audio once the upstream was pulled")
            #expect(upstream.process.output().contains("connected (metadata"))

            try await eventually(within: 6, "the upstream to be dropped after the idle time") { try await ingest.upstreamState() == "idle (on demand)" }
            try await eventually(within: 3, "the upstream server to see the ingest leave") { upstream.process.output().contains("disconnected") }
        }
    }
}
