import CastyFuzzDrivers
import Foundation
import Testing

extension IntegrationTests.Radios {
    /// casty-ingest given a playlist instead of a stream (`.pls`, `.m3u` with a dead first entry,
    /// a playlist content type, HLS), and given bad input: a stream whose label lies, random bytes,
    /// damaged Ogg. Upstreams are served by Tests/Fixtures/raw-stream.py (byte for byte what
    /// the test wrote) and the local test radio; players are real sockets, ffmpeg and ffprobe.
    @Suite(.timeLimit(.minutes(2)))
    struct PlaylistAndBadInputTests {
        // MARK: Playlists

        @Test func followsAPLSToTheLiveRadio() async throws {
            let radio = try await TestRadio(trackSeconds: 5)
            defer { radio.stop() }
            let folder = try Paths.temporaryFolder("casty-pls")
            let pls = try write(folder, "radio.pls", "[playlist]\nNumberOfEntries=1\nFile1=\(radio.url)\nTitle1=Casty Test Radio\nLength1=-1\nVersion=2\n")
            let server = try await RawServer(folder: folder, routes: [("/radio.pls", "audio/x-scpls", pls)])
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/radio.pls"))
            defer { ingest.process.stop() }

            try await expectRelaysTheRadio(ingest)
            let log = ingest.process.output()
            #expect(log.contains("following a playlist"), "ingest log:\n\(log.suffix(3000))")
            #expect(server.process.output().contains("GET /radio.pls"))
        }

        @Test func skipsADeadFirstEntryOfAnM3U() async throws {
            let radio = try await TestRadio(trackSeconds: 5)
            defer { radio.stop() }
            let folder = try Paths.temporaryFolder("casty-m3u")
            let dead = "http://127.0.0.1:\(try freePort())/stream"
            let m3u = try write(folder, "radio.m3u", "#EXTM3U\n#EXTINF:-1,Casty Dead Entry\n\(dead)\n#EXTINF:-1,Casty Test Radio\n\(radio.url)\n")
            let server = try await RawServer(folder: folder, routes: [("/radio.m3u", "audio/x-mpegurl", m3u)])
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/radio.m3u"))
            defer { ingest.process.stop() }

            try await expectRelaysTheRadio(ingest)
            let log = ingest.process.output()
            let moved = log.split(separator: "\n").first { $0.contains("playlist entry unreachable; trying the next one") }
            #expect(moved != nil, "the ingest's log must say it moved past the dead entry:\n\(log.suffix(3000))")
            #expect(moved.map { $0.contains(dead) && $0.contains(radio.url) } == true, "the line names the dead entry and the next one: \(moved ?? "")")
        }

        @Test func followsAPlaylistContentTypeAtAPathWithoutExtension() async throws {
            let radio = try await TestRadio(trackSeconds: 5)
            defer { radio.stop() }
            let folder = try Paths.temporaryFolder("casty-mpegurl")
            let body = try write(folder, "listen", "\(radio.url)\n")
            let server = try await RawServer(folder: folder, routes: [("/listen", "audio/x-mpegurl", body)])
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/listen"))
            defer { ingest.process.stop() }

            try await expectRelaysTheRadio(ingest)
            #expect(ingest.process.output().contains("following a playlist"), "\(ingest.process.output().suffix(3000))")
        }

        @Test(arguments: [
            ("/live/index.m3u8", "application/vnd.apple.mpegurl"),
            ("/live", "application/x-mpegurl"),
        ])
        func stopsAtAnHLSPlaylistSayingWhatToGive(path: String, contentType: String) async throws {
            let folder = try Paths.temporaryFolder("casty-hls")
            let hls = try write(folder, "index.m3u8", """
                #EXTM3U
                #EXT-X-VERSION:3
                #EXT-X-TARGETDURATION:10
                #EXT-X-MEDIA-SEQUENCE:1
                #EXTINF:10.0,
                seg1.ts
                #EXTINF:10.0,
                seg2.ts
                #EXTINF:10.0,
                seg3.ts

                """)
            let server = try await RawServer(folder: folder, routes: [(path, contentType, hls)])
            defer { server.process.stop() }
            // Not an IngestNode: that waits for /status.json, and this ingest is to stop at once.
            let port = try freePort()
            let ingest = try ManagedProcess(
                name: "ingest",
                executable: Paths.binary("casty-ingest"),
                arguments: [server.url(path), "--host", "127.0.0.1", "--port", "\(port)"],
                logFolder: folder
            )
            defer { ingest.stop() }
            let started = Date()
            while ingest.isRunning, Date().timeIntervalSince(started) < 8 { try await Task.sleep(for: .milliseconds(100)) }
            if ingest.isRunning {
                let state = (try? await onThread { try StreamClient.fetch(port: port, request: "GET /status.json HTTP/1.0\r\n\r\n", seconds: 1) })
                    .map { String(decoding: $0.body, as: UTF8.self) } ?? "(no answer)"
                let stopping = Date()
                let status = ingest.stop(seconds: 3)
                let after = String(format: "%.1f", Date().timeIntervalSince(stopping))
                Issue.record("""
                    casty-ingest \(server.url(path)) (an HLS playlist) was still running 8 s after it started, instead of \
                    exiting non-zero; its /status.json then: \(state); SIGTERM \(status == 128 + SIGKILL ? "did not stop it within 3 s either: it took SIGKILL" : "stopped it (exit \(status)) after \(after) s"). Its log:
                    \(ingest.output())
                    """)
            } else {
                let status = ingest.stop()
                #expect(status != 0 && status < 128, "exit status \(status); output:\n\(ingest.output())")
                #expect(Date().timeIntervalSince(started) < 6)
                #expect(ingest.output().contains("casty-ingest: error:"), "one error line at the end:\n\(ingest.output())")
            }
            let output = ingest.output()
            #expect(output.contains("HLS"), "\(output)")
            #expect(output.contains("give the stream URL"), "the message says what to give instead:\n\(output)")
            #expect(server.process.output().contains("GET \(path)"))
        }

        // MARK: Bad input

        @Test func relaysOggLabelledAudioMPEGAsOgg() async throws {
            let folder = try Paths.temporaryFolder("casty-liar")
            let opus = try await makeOpus(folder.appendingPathComponent("tone.opus"), seconds: 40)
            let server = try await RawServer(folder: folder, file: opus, contentType: "audio/mpeg")
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/stream"))
            defer { ingest.process.stop() }

            // A healthy listener connected from the start, then a late one.
            async let early = ingest.listen(metadata: true, seconds: 9)
            try await eventually(within: 8, "the ingest to log the label's mismatch") {
                ingest.process.output().contains("the radio says audio/mpeg but sends Ogg; relaying it as Ogg")
            }
            // Late: once the ingest holds a couple of Ogg segments.
            try await eventually(within: 10, "two segments") { (try await ingest.seq() ?? -1) >= 2 }
            let head = try await ingest.listen(metadata: true, seconds: 1)
            #expect(head.statusLine == "HTTP/1.0 200 OK")
            #expect(head.header("content-type") == "audio/ogg", "a player asking later gets: \(head.head)")
            #expect(head.header("icy-metaint") == nil, "Ogg gets no ICY metadata: \(head.head)")
            #expect(head.body.starts(with: Array("OggS".utf8)), "the stream starts on an Ogg page")
            let late = try await decodeLive(ingest)
            #expect(late.status == 0 && late.output.isEmpty, "ffmpeg on a late listener: exit \(late.status), output:\n\(late.output)")

            // The listener that connected before the ingest saw the first bytes was told the
            // radio's label; once the bytes said Ogg, it is closed (its decoder expects MP3) before
            // any audio reaches it, so that it reconnects and gets the Ogg stream a late one gets.
            // (If it connected after the first segment after all, it got the Ogg stream itself.)
            let earlyReceived = try await early
            if earlyReceived.header("content-type") == "audio/mpeg" {
                #expect(earlyReceived.closedByServer, "the early listener is closed, not fed Ogg under the label audio/mpeg; its head:\n\(earlyReceived.head)")
                #expect(earlyReceived.body.isEmpty, "the early listener got \(earlyReceived.body.count) bytes under the label audio/mpeg")
                #expect(ingest.process.output().contains("the stream's format changed from MP3 to Ogg; reconnect"))
            } else {
                #expect(earlyReceived.header("content-type") == "audio/ogg" && earlyReceived.header("icy-metaint") == nil, "\(earlyReceived.head)")
                let decoded = try await decodeFile(earlyReceived.body, in: folder, name: "early.ogg")
                #expect(decoded.errors.isEmpty && decoded.seconds > 4, "the early listener: \(decoded.seconds) s, \(decoded.errors)")
            }
            #expect(ingest.process.isRunning)
        }

        @Test func survivesRandomBytesLabelledAudioMPEG() async throws {
            let folder = try Paths.temporaryFolder("casty-noise")
            var random = SplitMix64(seed: 0xCA57_0012)
            let noise = folder.appendingPathComponent("noise.bin")
            try Data((0..<256 * 1024).map { _ in UInt8(truncatingIfNeeded: random.next()) }).write(to: noise)
            let server = try await RawServer(folder: folder, file: noise, contentType: "audio/mpeg")
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/stream"))
            defer { ingest.process.stop() }

            async let early = ingest.listen(metadata: true, seconds: 7)
            // Casty says so after a few segments (seconds) without a frame.
            try? await eventually(within: 15, "a line about the stream") { ingest.process.output().contains("is the stream really") }
            #expect(ingest.process.isRunning, "the ingest crashed on random bytes:\n\(ingest.process.output().suffix(3000))")
            let status = try await ingest.status()
            #expect((status["seq"] as? Int ?? 0) >= 2, "the ingest keeps reading the radio: \(status)")
            let listener = try await early
            #expect(listener.statusLine == "HTTP/1.0 200 OK", "the listener is answered: \(listener.head)")
            let log = ingest.process.output()
            // A line at warning level or above about the stream itself (not about the connection).
            let about = log.split(separator: "\n").filter { line in
                [" notice ", " warning ", " error ", " critical "].contains { line.contains($0) }
                    && !line.contains("upstream lost") && !line.contains("cannot connect")
            }
            if about.isEmpty {
                Issue.record("""
                    casty-ingest relaying 256 KiB of random bytes labelled audio/mpeg logs no line (notice or above) \
                    saying the stream is not what it claims (no MPEG frame found); \
                    listener got \(listener.body.count) body bytes; log:
                    \(log.suffix(3000))
                    """)
            }
            #expect(ingest.process.isRunning)
        }

        @Test func survivesAnOggPageWithABrokenCRC() async throws {
            let folder = try Paths.temporaryFolder("casty-crc")
            let opus = try await makeOpus(folder.appendingPathComponent("tone.opus"), seconds: 40)
            var bytes = [UInt8](try Data(contentsOf: opus))
            let pages = try oggPages(bytes)
            // The audio page that arrives about 4 s in (16000 bytes/s): one byte flipped in its body.
            guard let damaged = pages.dropFirst(2).first(where: { $0.offset + $0.length > 64_000 }) else {
                throw TestFailure("the generated Ogg file is too short: \(bytes.count) bytes")
            }
            let flipped = damaged.offset + damaged.headerLength + (damaged.length - damaged.headerLength) / 2
            bytes[flipped] ^= 0x5A
            let file = folder.appendingPathComponent("damaged.opus")
            try Data(bytes).write(to: file)
            let server = try await RawServer(folder: folder, file: file, contentType: "audio/ogg")
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/stream"))
            defer { ingest.process.stop() }

            // A listener from before the damage to after it (joining after the first segment).
            try await eventually(within: 5, "a first segment") { (try await ingest.seq() ?? -1) >= 1 }
            async let early = ingest.listen(metadata: false, seconds: 9)
            try await eventually(within: 10, "the ingest to log the damaged page") { ingest.process.output().contains("damaged stream") }
            #expect(ingest.process.isRunning)
            let late = try await decodeLive(ingest)
            let earlyReceived = try await early
            #expect(ingest.process.isRunning, "\(ingest.process.output().suffix(3000))")
            #expect((try await ingest.status()["seq"] as? Int ?? 0) >= 4)

            // The damaged page reaches players as the radio sent it (Casty relays, it does not
            // repair), so a decoder may say so; nothing else may go wrong.
            #expect(late.status == 0, "ffmpeg on a late listener: exit \(late.status), output:\n\(late.output)")
            #expect(onlyAboutTheDamagedPage(late.output), "ffmpeg on a late listener reports more than the damaged page:\n\(late.output)")
            #expect(!earlyReceived.closedByServer, "the listener stays connected through the damage")
            #expect(earlyReceived.body.count > damaged.offset + damaged.length + 16_000, "the listener got \(earlyReceived.body.count) bytes, audio kept flowing past the damaged page at byte \(damaged.offset)")
            let decoded = try await decodeFile(earlyReceived.body, in: folder, name: "early.ogg")
            #expect(onlyAboutTheDamagedPage(decoded.errors), "decoding what the listener got:\n\(decoded.errors)")
            #expect(decoded.seconds > 6, "the listener got \(decoded.seconds) s of decodable audio")
            let log = ingest.process.output()
            let lines = log.split(separator: "\n").filter { $0.contains("damaged stream") }
            #expect(lines.count <= 3, "one damaged page is logged once or twice, not flooded:\n\(lines.joined(separator: "\n"))")
        }

        @Test func survivesATruncatedOggHeaderPage() async throws {
            let folder = try Paths.temporaryFolder("casty-cut")
            let first = [UInt8](try Data(contentsOf: try await makeOpus(folder.appendingPathComponent("a.opus"), seconds: 5, frequency: 440, serial: 1000)))
            let second = [UInt8](try Data(contentsOf: try await makeOpus(folder.appendingPathComponent("b.opus"), seconds: 5, frequency: 660, serial: 2000)))
            let third = [UInt8](try Data(contentsOf: try await makeOpus(folder.appendingPathComponent("c.opus"), seconds: 20, frequency: 880, serial: 3000)))
            let firstPages = try oggPages(first)
            let secondPages = try oggPages(second)
            guard firstPages.count > 2, secondPages.count > 4, firstPages[1].serial != secondPages[0].serial else {
                throw TestFailure("generated Ogg files are not as expected: \(firstPages.prefix(3)) \(secondPages.prefix(3))")
            }
            // The first file cut inside its second header page (OpusTags), then audio pages of
            // another logical stream, random bytes, then a whole new chain.
            var random = SplitMix64(seed: 12)
            let cut = firstPages[1].offset + firstPages[1].length / 2
            var stream = Array(first[..<cut])
            stream += second[secondPages[2].offset...]
            stream += (0..<16_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            stream += third
            let file = folder.appendingPathComponent("cut.opus")
            try Data(stream).write(to: file)
            let server = try await RawServer(folder: folder, file: file, contentType: "audio/ogg")
            defer { server.process.stop() }
            let ingest = try await IngestNode(upstream: server.url("/stream"))
            defer { ingest.process.stop() }

            try await eventually(within: 5, "a first segment") { (try await ingest.seq() ?? -1) >= 1 }
            async let early = ingest.listen(metadata: false, seconds: 9)
            try await eventually(within: 8, "the ingest to log the damage") { ingest.process.output().contains("damaged stream") }
            // The whole new chain starts (cut + second's audio + 16000) bytes in: listen once the
            // ingest has 2 s (segments of 16000 bytes) of it.
            let chainAt = Double(stream.count - third.count) / 16_000
            try await eventually(within: chainAt + 15, "2 s of the new chain at the ingest") {
                (try await ingest.seq() ?? -1) >= Int(chainAt.rounded(.up)) + 2
            }
            #expect(ingest.process.isRunning, "\(ingest.process.output().suffix(3000))")
            _ = try await ingest.status()
            // Where a new player's bytes start in what the radio sent.
            let sample = try await ingest.listen(metadata: false, seconds: 1)
            let sampleStart = find(sample.body.prefix(64), in: stream)
            let late = try await decodeLive(ingest)
            let earlyReceived = try await early
            #expect(ingest.process.isRunning, "\(ingest.process.output().suffix(3000))")
            #expect(!earlyReceived.closedByServer, "the listener stays connected")
            // Once a whole chain has come, a new player gets it (not the broken chain before it).
            let chainStart = stream.count - third.count
            #expect(sampleStart.map { $0 >= chainStart } == true, "a player joining \(Int(chainAt + 2)) s in, after a whole new chain (from stream byte \(chainStart)), gets bytes from stream byte \(sampleStart.map(String.init) ?? "?"), before that chain (the broken one's first page is at 0)")
            #expect(late.status == 0 && late.output.isEmpty, "ffmpeg on a listener who joined \(Int(chainAt + 2)) s in, after a whole new chain (from stream byte \(chainStart)): exit \(late.status), output:\n\(late.output)")
            let lines = ingest.process.output().split(separator: "\n").filter { $0.contains("damaged stream") }
            #expect(!lines.isEmpty)
        }

        // MARK: Helpers

        /// The ingest relays the local test radio: connected, numbered segments, the radio's
        /// title in /status.json, and players decode it (ffprobe finds MP3, ffmpeg reports nothing).
        private func expectRelaysTheRadio(_ ingest: IngestNode) async throws {
            try await eventually(within: 12, "the ingest to connect to the radio") { try await ingest.upstreamState() == "connected" }
            try await eventually(within: 10, "segments from the radio") { (try await ingest.seq() ?? -1) >= 2 }
            try await eventually(within: 10, "the radio's title in /status.json") {
                (try await ingest.status()["title"] as? String)?.contains("Casty Test Tone") == true
            }
            let url = "http://127.0.0.1:\(ingest.port)/"
            let probe = try await onThread {
                try runCommand("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", url], timeout: 20)
            }
            #expect(probe.status == 0 && probe.output.trimmingCharacters(in: .whitespacesAndNewlines) == "mp3", "ffprobe: exit \(probe.status), output:\n\(probe.output)")
            let decoded = try await decodeLive(ingest)
            #expect(decoded.status == 0 && decoded.output.isEmpty, "ffmpeg: exit \(decoded.status), output:\n\(decoded.output)")
        }

        /// `ffmpeg -v error -t 5 -i URL -f null -` on the ingest's stream.
        private func decodeLive(_ ingest: IngestNode) async throws -> (status: Int32, output: String) {
            let url = "http://127.0.0.1:\(ingest.port)/"
            return try await onThread {
                try runCommand("/usr/bin/ffmpeg", ["-nostdin", "-v", "error", "-t", "5", "-i", url, "-f", "null", "-"], timeout: 25)
            }
        }

        /// Decodes what a listener received: ffmpeg's error lines and the seconds of audio.
        private func decodeFile(_ body: [UInt8], in folder: URL, name: String) async throws -> (errors: String, seconds: Double) {
            let input = folder.appendingPathComponent(name)
            let output = folder.appendingPathComponent(name + ".raw")
            try Data(body).write(to: input)
            let result = try await onThread {
                try runCommand("/usr/bin/ffmpeg", ["-nostdin", "-v", "error", "-y", "-i", input.path, "-f", "s16le", "-ac", "1", "-ar", "8000", output.path], timeout: 25)
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: output.path))?[.size] as? Int) ?? 0
            return (result.output + (result.status == 0 ? "" : "exit \(result.status)"), Double(size) / 16_000)
        }

        /// Whether every line a decoder printed is about a damaged Ogg page (its CRC, or the
        /// packet it carried).
        private func onlyAboutTheDamagedPage(_ output: String) -> Bool {
            output.split(separator: "\n").allSatisfy { line in
                let lower = line.lowercased()
                return lower.contains("crc") || lower.contains("last message repeated") || lower.contains("page") || lower.contains("packet") || lower.contains("corrupt") || lower.contains("invalid data")
            }
        }
    }
}

/// Writes `text` to `name` in `folder`.
private func write(_ folder: URL, _ name: String, _ text: String) throws -> URL {
    let url = folder.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url
}

/// An Ogg Opus file of a sine tone made by ffmpeg (pages of 200 ms; with `serial`, a fixed
/// serial number).
private func makeOpus(_ file: URL, seconds: Int, frequency: Int = 440, serial: Int? = nil) async throws -> URL {
    var arguments = ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=\(frequency):duration=\(seconds)", "-c:a", "libopus", "-b:a", "64k", "-page_duration", "200000"]
    if let serial { arguments += ["-fflags", "+bitexact", "-serial_offset", "\(serial)"] }
    arguments.append(file.path)
    let command = arguments
    let result = try await onThread { try runCommand("/usr/bin/ffmpeg", command, timeout: 60) }
    guard result.status == 0 else { throw TestFailure("ffmpeg could not make \(file.lastPathComponent):\n\(result.output)") }
    return file
}

/// One Ogg page's place in a file.
private struct OggPageSpan: CustomStringConvertible {
    var offset: Int
    var headerLength: Int
    var length: Int
    var serial: UInt32
    var description: String { "page(at: \(self.offset), length: \(self.length), serial: \(self.serial))" }
}

/// The pages of a well-formed Ogg file (capture pattern, segment table; the CRC is not checked).
private func oggPages(_ bytes: [UInt8]) throws -> [OggPageSpan] {
    var pages: [OggPageSpan] = []
    var at = 0
    while at < bytes.count {
        guard at + 27 <= bytes.count, bytes[at..<at + 4].elementsEqual("OggS".utf8) else {
            throw TestFailure("no Ogg page at byte \(at)")
        }
        let segments = Int(bytes[at + 26])
        let headerLength = 27 + segments
        guard at + headerLength <= bytes.count else { throw TestFailure("cut Ogg page at byte \(at)") }
        let bodyLength = bytes[at + 27..<at + headerLength].reduce(0) { $0 + Int($1) }
        let serial = bytes[at + 14..<at + 18].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        pages.append(OggPageSpan(offset: at, headerLength: headerLength, length: headerLength + bodyLength, serial: serial))
        at += headerLength + bodyLength
    }
    return pages
}
