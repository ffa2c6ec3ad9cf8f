import Foundation
import Testing

extension IntegrationTests.Radios {
    /// Every format of the test radio through a real fleet (issue 12): a real Icecast mount fed
    /// by scripts/test-radio.sh in that format (6 s tracks, so titles change during the test),
    /// relayed by the ingest and 3 mirrors, every node with `--ring-seconds 3`. Listeners join the
    /// ingest and the deepest mirror (depth 2) more than a ring length after the fleet formed, so
    /// the ring no longer holds what they need to start (an Ogg chain's header pages). For each:
    /// ffmpeg decodes 10 s without a word, ffprobe names the codec, the Content-Type is Icecast's,
    /// and the bytes are Icecast's (after the Ogg header pages Casty sends first, which are the
    /// chain's own). Titles change on `/status.json`; Ogg listeners decode across chain
    /// boundaries and get no ICY metadata; MP3/AAC players' first metadata block names the title
    /// in force, in Icecast's bytes (Latin-1 with `--unicode-titles`); AAC and Opus play in
    /// headless Chromium through a leaf's status page.
    @Suite(.timeLimit(.minutes(3)))
    struct FormatRelayTests {
        @Test func mp3CBRWithUnicodeTitles() async throws { try await FormatRelayCheck(format: .mp3, unicodeTitles: true).run() }
        @Test func mp3VBR() async throws { try await FormatRelayCheck(format: .mp3VBR).run() }
        @Test func aacADTS() async throws { try await FormatRelayCheck(format: .aac, chromium: true).run() }
        @Test func oggVorbis() async throws { try await FormatRelayCheck(format: .vorbis).run() }
        @Test func oggOpus() async throws { try await FormatRelayCheck(format: .opus, chromium: true).run() }
        @Test func oggFLAC() async throws { try await FormatRelayCheck(format: .flac).run() }
        @Test func chainedOggVorbis() async throws { try await FormatRelayCheck(format: .vorbisChained).run() }
    }
}

/// One format's test: one radio and one fleet, every check against them.
struct FormatRelayCheck {
    let format: RadioFormat
    var unicodeTitles = false
    var chromium = false
    static let ringSeconds = 3
    static let mirrors = 3

    /// Seconds per track: 6, but 8 for FLAC and Vorbis. The ring is sized from the announced
    /// bitrate, and their tones (with noise: FLAC ~830 kbps for 1411 announced, Vorbis ~90 kbps
    /// for 128) make a 3 s ring hold ~5 s and ~4.3 s of audio: the tracks are longer than that,
    /// so a late joiner really finds its chain's header pages gone from the ring.
    var trackSeconds: Int { [.flac, .vorbis, .vorbisChained].contains(self.format) ? 8 : 6 }

    /// Tracks with quiet noise (no two MP3/AAC frames alike; FLAC and Vorbis near their announced bitrate).
    var noise: Bool { self.format != .opus }

    /// Ogg: the new listeners join this long after a chain started, when the ring no longer
    /// holds its header pages (Opus at 96 kbps: 3 s of audio).
    var joinAfterChainStart: Double {
        switch self.format {
        case .flac: 6
        case .vorbis, .vorbisChained: 5.5
        default: Double(Self.ringSeconds) + 1
        }
    }

    func run() async throws {
        let started = Date()
        let findings = Findings(prefix: self.format.rawValue)
        let radio = try await TestRadio(
            trackSeconds: self.trackSeconds, format: self.format.rawValue, unicodeTitles: self.unicodeTitles,
            noise: self.noise)
        let folder = try Paths.temporaryFolder("casty-format-\(self.format.rawValue)")
        findings.note("radio up after \(String(format: "%.1f", Date().timeIntervalSince(started))) s; recordings in \(folder.path), radio in \(radio.folder.path)")
        // Icecast's ICY stream for the whole test (MP3/AAC): the metadata bytes players must get.
        let icecastICY =
            self.format.isOgg ? nil : try? CurlRecording(name: "icecast-icy", url: radio.url, metadata: true, seconds: 60, folder: folder)
        let fleet: ArgumentFleet
        do {
            fleet = try await ArgumentFleet.running(upstream: radio.url, mirrors: Self.mirrors, nodeArguments: ["--ring-seconds", "\(Self.ringSeconds)"])
        } catch {
            _ = try? await onThread {
                icecastICY?.stop()
                radio.stop()
            }
            throw error
        }
        let stop = { @Sendable in
            icecastICY?.stop()
            fleet.stopAll()
            radio.stop()
        }
        do {
            try await self.check(radio: radio, fleet: fleet, icecastICY: icecastICY, folder: folder, findings: findings)
        } catch {
            findings.fail("stopped by: \(error)")
        }
        let problems = findings.all
        if !problems.isEmpty { print("[\(self.format.rawValue)] node logs:\n\(fleet.logTails())") }
        _ = try? await onThread(stop)
        findings.note("done in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        for problem in problems {
            Issue.record("[\(self.format.rawValue)] \(problem)")
        }
    }

    private func check(radio: TestRadio, fleet: ArgumentFleet, icecastICY: CurlRecording?, folder: URL, findings: Findings) async throws {
        let format = self.format
        guard let deepestMirror = await fleet.deepestMirror() else { throw TestFailure("no mirror in the tree") }
        let (deepest, depth) = (deepestMirror.name, deepestMirror.depth)
        guard depth == 2 else { throw TestFailure("the deepest mirror \(deepest) is at depth \(depth), not 2: \(await fleet.fleet.tree())") }
        let ingestPort = fleet.fleet.root.port
        let deepPort = fleet.fleet.port(of: deepest)
        let formed = Date()
        let initialTitle = await fleet.fleet.status("root")?["title"] as? String
        findings.note("fleet formed: \(await fleet.fleet.tree()); deepest \(deepest) on port \(deepPort)")

        // MP3/AAC: a player on the deepest mirror, which itself joined mid-track a moment ago:
        // its first metadata block names the title in force.
        var caughtBlocks: [[UInt8]] = []
        if !format.isOgg {
            if let blocks = await findings.attempt("ICY player on \(deepest) right after it joined", { try await self.firstTitleCheck(radio: radio, port: deepPort, node: deepest, findings: findings) }) {
                caughtBlocks += blocks
            }
        }

        // More than a ring length later (ring + 2 s after the fleet formed), new listeners. Icecast's
        // own plain listener starts 4 s before them: Casty's listeners start with up to a ring
        // (at most --burst-bytes, 256 KiB) of past audio, Icecast's with 64 KiB, so its recording
        // covers theirs from their first byte (FLAC: 256 KiB is ~4 s, 64 KiB under 1 s).
        // Ogg: they join `joinAfterChainStart` after a chain started (seen as a title change on
        // the ingest), when the ring no longer holds that chain's header pages.
        let lead = 4.0
        let listenSeconds = 10.0
        var joinAt = formed.addingTimeInterval(Double(Self.ringSeconds) + 2)
        var chainStart: Date?
        if format.isOgg {
            try await eventually(within: Double(self.trackSeconds) + 5, "a new chain (title change) on the ingest") {
                (await fleet.fleet.status("root")?["title"] as? String).map { $0 != initialTitle } ?? false
            }
            chainStart = Date()
            joinAt = max(joinAt, Date().addingTimeInterval(self.joinAfterChainStart))
        }
        // Time that must pass, not an event: the listeners' point is to join once the ring has
        // rolled past what it held when the fleet formed (or when the chain started).
        try await Task.sleep(for: .seconds(max(0, joinAt.timeIntervalSinceNow - lead)))
        let icecastPlain = try CurlRecording(name: "icecast", url: radio.url, metadata: false, seconds: lead + listenSeconds + 2.5, folder: folder)
        defer { icecastPlain.stop() }
        try await Task.sleep(for: .seconds(max(0, joinAt.timeIntervalSinceNow)))
        findings.note(
            "listeners join \(String(format: "%.1f", Date().timeIntervalSince(formed))) s after the fleet formed"
                + (chainStart.map { String(format: ", %.1f s after the current chain started (ring: %d s at the announced bitrate)", Date().timeIntervalSince($0), Self.ringSeconds) } ?? ""))

        let urls = [("ingest", "http://127.0.0.1:\(ingestPort)/"), (deepest, "http://127.0.0.1:\(deepPort)/")]
        let recordings = try urls.map { name, url in
            try CurlRecording(name: name, url: url, metadata: false, seconds: listenSeconds, folder: folder)
        }
        defer { recordings.forEach { $0.stop() } }
        // Every Ogg format changes chains at a title change (Vorbis: Icecast starts a new one).
        let chained = format.isOgg
        // Decoding, probing, heads and titles, all at once (each on a thread of its own, bounded by timeouts).
        let decodeTasks = urls.map { _, url in Task { try await onThread { try ffmpegDecode(url, seconds: listenSeconds) } } }
        let icecastDecode = Task { try await onThread { try ffmpegDecode(radio.url, seconds: listenSeconds) } }
        let probeTasks = urls.map { _, url in Task { try await onThread { try ffprobeCodec(url) } } }
        let heads = Task {
            try await onThread {
                (try fetchHead(port: radio.port, path: "/stream"), try fetchHead(port: ingestPort, path: "/"), try fetchHead(port: deepPort, path: "/"))
            }
        }
        let titles = Task { await self.watchTitles(fleet: fleet, nodes: ["root", deepest], seconds: listenSeconds + 1) }
        let oggWithMetadata = Task { () -> StreamClient.Received? in
            guard format.isOgg else { return nil }
            return try await onThread { try StreamClient.fetch(port: deepPort, request: StreamClient.playerRequest(metadata: true), seconds: 3) }
        }
        let lateICY = Task { () -> [[UInt8]]? in
            guard !format.isOgg else { return nil }
            return await findings.attempt("late ICY player on \(deepest)") { try await self.firstTitleCheck(radio: radio, port: deepPort, node: deepest, findings: findings) }
        }

        // ffmpeg decodes 10 s from each node without a word (chained Ogg: ffmpeg's own chain-boundary
        // notices, which Icecast's stream gets too, are tolerated and shown).
        let tolerated = chained ? ffmpegChainBoundaryMessages : []
        let icecastRun = await findings.attempt("ffmpeg on Icecast") { try await icecastDecode.value }
        if let decoded = await findings.attempt("ffmpeg", { try await decodeTasks.asyncMap { try await $0.value } }) {
            for ((name, url), result) in zip(urls, decoded) {
                let bad = unexpectedLines(result.output, tolerating: tolerated)
                findings.check(
                    result.status == 0 && bad.isEmpty,
                    "`ffmpeg -v error -t 10 -i \(url) -f null -` (\(name)) exited \(result.status) and printed:\n\(result.output)\n(Icecast's stream at the same time: exit \(icecastRun?.status ?? -1), printed: \(icecastRun?.output ?? "?"))"
                )
                if !result.output.isEmpty { findings.note("ffmpeg on \(name) printed (tolerated): \(result.output)") }
            }
        }
        if let probed = await findings.attempt("ffprobe", { try await probeTasks.asyncMap { try await $0.value } }) {
            for ((name, url), result) in zip(urls, probed) {
                let lines = unexpectedLines(result.output, tolerating: tolerated)
                findings.check(
                    result.status == 0 && lines == [format.codec],
                    "`ffprobe -v error -show_entries stream=codec_name -of csv=p=0 \(url)` (\(name)) exited \(result.status) and printed \(result.output.debugDescription), not \(format.codec.debugDescription)"
                )
            }
        }
        if let (icecastHead, ingestHead, deepHead) = await findings.attempt("heads", { try await heads.value }) {
            let expected = icecastHead.header("content-type")
            findings.check(expected != nil, "Icecast's head has no Content-Type:\n\(icecastHead.head)")
            for (name, head) in [("ingest", ingestHead), (deepest, deepHead)] {
                findings.check(
                    head.header("content-type") == expected,
                    "\(name)'s Content-Type \(head.header("content-type") ?? "(none)") ≠ Icecast's \(expected ?? "(none)")\n\(name)'s head:\n\(head.head)"
                )
            }
            findings.note("Content-Type: Icecast \(expected ?? "-"), ingest \(ingestHead.header("content-type") ?? "-"), \(deepest) \(deepHead.header("content-type") ?? "-")")
        }

        // /status.json's title moves from one track's title to the next, on the ingest and the deepest mirror.
        let seen = await titles.value
        let trackTitles = radio.trackTitles()
        for node in ["root", deepest] {
            let sequence = seen[node] ?? []
            findings.note("titles on \(node)'s /status.json: \(sequence)")
            findings.check(sequence.count >= 2, "\(node)'s /status.json title did not change in \(listenSeconds + 1) s (6 s tracks): \(sequence)")
            for title in sequence where !trackTitles.contains(title) {
                findings.fail("\(node)'s /status.json shows title \(title.debugDescription), which is none of the radio's \(trackTitles)")
            }
            for (from, to) in zip(sequence, sequence.dropFirst()) where radio.title(after: from) != to {
                findings.fail("\(node)'s /status.json title went from \(from.debugDescription) to \(to.debugDescription), not to the next track's \(radio.title(after: from) ?? "?")")
            }
        }

        // Ogg: a listener asking for ICY metadata gets none, just Ogg.
        if let received = await findings.attempt("Ogg listener asking Icy-MetaData: 1", { try await oggWithMetadata.value }), let received {
            findings.check(received.header("icy-metaint") == nil, "\(deepest) sent icy-metaint to an Ogg listener that asked Icy-MetaData: 1:\n\(received.head)")
            findings.check(received.body.starts(with: Array("OggS".utf8)), "the Ogg listener asking Icy-MetaData: 1 got no Ogg page first: \(hex(received.body, at: 0))")
            _ = await findings.attempt("the Ogg listener asking Icy-MetaData: 1 got pages back to back, CRCs right") { try OggPages.parse(received.body) }
            let file = folder.appendingPathComponent("\(deepest)-icy-asked.ogg")
            try Data(received.body).write(to: file)
            if let probe = await findings.attempt("ffprobe of the Icy-MetaData: 1 recording", { try await onThread { try ffprobeCodec(file.path) } }) {
                // Its 3 s may cross a chain boundary, where ffprobe prints ffmpeg's chain notice
                // (on Icecast's own stream too), as the probes above tolerate.
                findings.check(
                    probe.status == 0 && unexpectedLines(probe.output, tolerating: tolerated) == [format.codec],
                    "ffprobe of \(file.path) (Ogg asked with Icy-MetaData: 1): exit \(probe.status), \(probe.output.debugDescription), not \(format.codec)"
                )
            }
        }

        // The bytes: Icecast's.
        let listened = await recordings.asyncMap { try? await $0.finish() }
        let reference = try await icecastPlain.finish()
        findings.check(reference.body.count > 64 * 1024, "Icecast's recording has only \(reference.body.count) bytes")
        for ((name, _), received) in zip(urls, listened) {
            guard let received else {
                findings.fail("no recording of \(name)")
                continue
            }
            findings.check(received.statusLine.contains("200"), "\(name) answered \(received.statusLine.debugDescription)")
            findings.check(received.header("icy-metaint") == nil, "\(name) sent icy-metaint to a plain request")
            let what = "\(name)'s late listener"
            if format.isOgg {
                if let summary = await findings.attempt("bytes of \(name)", { try assertSameOgg(received.body, reference: reference.body, what: what) }) {
                    findings.note(summary)
                }
                if name == deepest {
                    await self.checkChainBoundary(received.body, reference: reference.body, name: name, folder: folder, findings: findings)
                }
            } else {
                let body = received.body
                let sync = format == .aac ? body.count > 1 && body[0] == 0xFF && body[1] & 0xF6 == 0xF0 : body.count > 1 && body[0] == 0xFF && body[1] & 0xE0 == 0xE0
                findings.check(sync, "\(what): the first bytes are not an \(format == .aac ? "ADTS" : "MPEG audio") frame header: \(hex(body, at: 0))")
                if let match = await findings.attempt("bytes of \(name)", { try assertContiguous(body, from: 0, in: reference.body, what: what) }) {
                    findings.note("\(what): \(match.compared) bytes (all it got) equal Icecast's from its byte \(match.referenceOffset)")
                }
            }
        }

        // MP3/AAC: the metadata bytes players got are Icecast's.
        if let icecastICY {
            if let late = await lateICY.value { caughtBlocks += late }
            let icecast = try await icecastICY.finish(within: 0)
            await findings.attempt("metadata bytes") { try self.compareMetadata(caughtBlocks, icecast: icecast, radio: radio, findings: findings) }
        }

        if self.chromium {
            await findings.attempt("Chromium") { try await self.playInChromium(fleet: fleet, leaf: deepest, findings: findings) }
        }
    }

    /// An `Icy-MetaData: 1` player on `port`: its first metadata block is the title in force (the
    /// radio's now, or the one before if it changed less than a ring ago: the player's burst
    /// starts up to a ring back). Returns the non-empty blocks it got.
    private func firstTitleCheck(radio: TestRadio, port: Int, node: String, findings: Findings) async throws -> [[UInt8]] {
        let before = radio.nowPlaying()
        let received = try await onThread { try StreamClient.fetch(port: port, request: StreamClient.playerRequest(metadata: true), seconds: 6, maxBytes: 36_000) }
        let after = radio.nowPlaying()
        guard let metaint = received.header("icy-metaint").flatMap(Int.init) else {
            throw TestFailure("\(node) sent no icy-metaint to a player that asked Icy-MetaData: 1:\n\(received.head)")
        }
        let blocks = icyMetadataBlocks(received.body, metaint: metaint)
        guard let first = blocks.first else { throw TestFailure("\(node): no metadata block in \(received.body.count) bytes (metaint \(metaint))") }
        var allowed = [before?.title, after?.title].compactMap { $0 }
        if let before, Date().timeIntervalSince(before.since) < Double(Self.ringSeconds) + 3, let previous = radio.title(before: before.title) {
            allowed.append(previous)
        }
        let title = streamTitleBytes(first).map { String(decoding: $0, as: UTF8.self) }
        let titleLatin1 = streamTitleBytes(first).flatMap { String(bytes: $0, encoding: .isoLatin1) }
        let text = (String(bytes: first, encoding: .isoLatin1) ?? "").debugDescription
        findings.check(!first.isEmpty, "\(node): the first metadata block of a new Icy-MetaData player is empty (length 0), not the title in force \(allowed.first ?? "?")")
        if !first.isEmpty {
            let matches = allowed.contains { $0 == title || $0 == titleLatin1 }
            findings.check(matches, "\(node): the first metadata block is \(text), not StreamTitle= one of \(allowed)")
            findings.note("\(node): first metadata block \(text) (radio: \(before?.title ?? "?") → \(after?.title ?? "?"))")
        }
        return blocks.filter { !$0.isEmpty }
    }

    /// Every non-empty metadata block Casty's players got is, byte for byte, one Icecast sent;
    /// with Unicode titles, they are Latin-1 and read back to the radio's titles.
    private func compareMetadata(_ blocks: [[UInt8]], icecast: StreamClient.Received, radio: TestRadio, findings: Findings) throws {
        guard let metaint = icecast.header("icy-metaint").flatMap(Int.init) else { throw TestFailure("Icecast's ICY recording has no icy-metaint:\n\(icecast.head)") }
        let icecastBlocks = Set(icyMetadataBlocks(icecast.body, metaint: metaint).filter { !$0.isEmpty })
        findings.check(!blocks.isEmpty, "Casty's players got no non-empty metadata block")
        for block in Set(blocks) {
            let text = (String(bytes: block, encoding: .isoLatin1) ?? "").debugDescription
            findings.check(
                icecastBlocks.contains(block),
                "a metadata block Casty relayed, \(hex(block, at: 0, count: 64)) (\(text)), is none of Icecast's: \(icecastBlocks.map { hex($0, at: 0, count: 64) })"
            )
            if self.unicodeTitles, let raw = streamTitleBytes(block) {
                let latin1 = String(bytes: raw, encoding: .isoLatin1) ?? ""
                findings.check(raw.contains { $0 >= 0x80 } && String(validating: raw, as: UTF8.self) == nil, "the relayed title bytes \(hex(raw, at: 0, count: 48)) are not Latin-1 with accents")
                findings.check(radio.trackTitles().contains(latin1), "the relayed title read as Latin-1, \(latin1.debugDescription), is none of the radio's \(radio.trackTitles())")
            }
        }
        findings.note("metadata: \(Set(blocks).count) distinct non-empty blocks relayed, all among Icecast's \(icecastBlocks.count)")
    }

    /// The titles each node's `/status.json` shows over `seconds`, in order, repeats removed.
    private func watchTitles(fleet: ArgumentFleet, nodes: [String], seconds: Double) async -> [String: [String]] {
        var seen: [String: [String]] = [:]
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for node in nodes {
                if let title = await fleet.fleet.status(node)?["title"] as? String, seen[node]?.last != title {
                    seen[node, default: []].append(title)
                }
            }
            // A sampling interval: the titles are watched for `seconds`, whatever they do.
            try? await Task.sleep(for: .milliseconds(250))
        }
        return seen
    }

    /// The deepest mirror's Ogg recording crosses at least one chain boundary (a title change)
    /// and decodes: as one file (ffmpeg's chain-boundary notice tolerated: it prints it for
    /// Icecast's own recording too), and chain by chain without a word.
    private func checkChainBoundary(_ body: [UInt8], reference: [UInt8], name: String, folder: URL, findings: Findings) async {
        guard let pages = try? OggPages.parse(body), let last = pages.last else { return }
        let starts = [0] + pages.indices.dropFirst().filter { pages[$0].isBOS }
        findings.check(starts.count >= 2, "\(name)'s Ogg recording (\(pages.count) pages) crosses no chain boundary: the title did not change in it")
        let file = folder.appendingPathComponent("\(name).ogg")
        let icecastFile = folder.appendingPathComponent("icecast.ogg")
        try? Data(body[0..<last.range.upperBound]).write(to: file)
        if let icecastPages = try? OggPages.parse(reference), let end = icecastPages.last?.range.upperBound {
            try? Data(reference[0..<end]).write(to: icecastFile)
        }
        guard let whole = await findings.attempt("ffmpeg on \(file.path)", { try await onThread { try ffmpegDecode(file.path) } }) else { return }
        let icecastWhole = try? await onThread { try ffmpegDecode(icecastFile.path) }
        findings.check(
            whole.status == 0 && unexpectedLines(whole.output, tolerating: ffmpegChainBoundaryMessages).isEmpty,
            "`ffmpeg -v error -i \(file.path) -f null -` (\(name)'s recording, \(starts.count - 1) chain boundaries) exited \(whole.status) and printed:\n\(whole.output)\n(Icecast's recording: exit \(icecastWhole?.status ?? -1), printed: \(icecastWhole?.output ?? "?"))"
        )
        var perChain: [String] = []
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? pages[starts[index + 1]].offset : last.range.upperBound
            let chainPages = pages.filter { $0.offset >= pages[start].offset && $0.offset < end }
            guard chainPages.contains(where: { $0.granule != 0 }) else {
                perChain.append("headers only (the recording ends)")
                continue
            }
            let chainFile = folder.appendingPathComponent("\(name)-chain\(index + 1).ogg")
            try? Data(body[pages[start].offset..<end]).write(to: chainFile)
            guard let result = await findings.attempt("ffmpeg on \(chainFile.path)", { try await onThread { try ffmpegDecode(chainFile.path) } }) else { continue }
            findings.check(
                result.status == 0 && result.output.isEmpty,
                "`ffmpeg -v error -i \(chainFile.path) -f null -` (chain \(index + 1) of \(name)'s recording, bytes \(pages[start].offset)..<\(end)) exited \(result.status) and printed:\n\(result.output)"
            )
            perChain.append(result.output.isEmpty ? "silent" : "printed")
        }
        findings.note(
            "\(name)'s recording: \(pages.count) pages, \(starts.count - 1) chain boundaries; ffmpeg on the whole file: \(whole.output.isEmpty ? "silent" : whole.output); chain by chain: \(perChain)")
    }

    /// The leaf's status page plays the stream in headless Chromium for 3 s.
    private func playInChromium(fleet: ArgumentFleet, leaf: String, findings: Findings) async throws {
        let arguments = [
            Paths.fixture("status-page-check.py").path,
            "http://127.0.0.1:\(fleet.fleet.port(of: leaf))/status",
            "--expect-nodes", "\(Self.mirrors + 1)",
            "--min-play-seconds", "3",
            "--timeout", "35",
        ]
        let result = try await onThread { try runCommand("/usr/bin/python3", arguments, timeout: 50) }
        let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "no JSON line"
        findings.note("Chromium on \(leaf)'s page: \(line)")
        findings.check(result.status == 0, "Chromium did not play \(leaf)'s stream for 3 s through its status page (exit \(result.status)):\n\(result.output.suffix(3000))")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
