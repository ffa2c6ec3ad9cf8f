import Foundation

// Support for FormatRelayTests: the test radio's formats, a fleet whose nodes take extra arguments
// (`--ring-seconds`), ffmpeg/ffprobe runs, a small independent Ogg page reader, ICY metadata
// blocks as raw bytes, and the byte comparison with Icecast.

/// A format of the test radio (`scripts/test-radio.sh --format`).
enum RadioFormat: String, Sendable, CaseIterable {
    case mp3
    case mp3VBR = "mp3-vbr"
    case aac
    case vorbis
    case vorbisChained = "vorbis-chained"
    case opus
    case flac

    /// The codec ffprobe names.
    var codec: String {
        switch self {
        case .mp3, .mp3VBR: "mp3"
        case .aac: "aac"
        case .vorbis, .vorbisChained: "vorbis"
        case .opus: "opus"
        case .flac: "flac"
        }
    }

    var isOgg: Bool {
        switch self {
        case .mp3, .mp3VBR, .aac: false
        default: true
        }
    }

    /// Whether every track is a chain of its own (so a 10 s recording crosses chain boundaries).
    var isChainedPerTrack: Bool { self == .vorbisChained || self == .opus || self == .flac }
}

extension TestRadio {
    /// The title playing now (`ARTIST - TITLE`), from the feeder's `now-playing`, and when it
    /// last changed.
    func nowPlaying() -> (title: String, since: Date)? {
        let file = self.folder.appendingPathComponent("now-playing")
        guard let text = try? String(contentsOf: file, encoding: .utf8),
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
            let date = attributes[.modificationDate] as? Date
        else { return nil }
        let title = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return title.isEmpty ? nil : (title, date)
    }

    /// The radio's titles in playing order (`ARTIST - TITLE`), from `tracks.txt`.
    func trackTitles() -> [String] {
        let text = (try? String(contentsOf: self.folder.appendingPathComponent("tracks.txt"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count >= 3 ? "\(fields[1]) - \(fields[2])" : nil
        }
    }

    /// The title that plays before `title` (the playlist loops).
    func title(before title: String) -> String? {
        let titles = self.trackTitles()
        guard let index = titles.firstIndex(of: title) else { return nil }
        return titles[(index + titles.count - 1) % titles.count]
    }

    /// The title that plays after `title`.
    func title(after title: String) -> String? {
        let titles = self.trackTitles()
        guard let index = titles.firstIndex(of: title) else { return nil }
        return titles[(index + 1) % titles.count]
    }
}

/// A fleet (TestFleet's fleet file, ports and status helpers) whose ingest and mirrors all get
/// `nodeArguments` (e.g. `--ring-seconds 3`), relaying any upstream URL.
/// `@unchecked Sendable`: `processes`, its only mutable state, is read and written under `lock`.
final class ArgumentFleet: @unchecked Sendable {
    let fleet: TestFleet
    let nodeArguments: [String]
    private var processes: [String: ManagedProcess] = [:]
    private let lock = NSLock()

    init(upstream: String, mirrors: Int, nodeArguments: [String]) throws {
        self.fleet = try TestFleet(upstream: upstream, mirrors: mirrors)
        self.nodeArguments = nodeArguments
    }

    /// Starts the ingest, then every mirror, and waits until all are in the tree and connected.
    /// Stops what it started if that fails.
    static func running(upstream: String, mirrors: Int, nodeArguments: [String]) async throws -> ArgumentFleet {
        let fleet = try ArgumentFleet(upstream: upstream, mirrors: mirrors, nodeArguments: nodeArguments)
        do {
            try fleet.start(name: fleet.fleet.root.name, executable: "casty-ingest", arguments: ["--fleet", fleet.fleet.fleetFile.path])
            try await fleet.fleet.waitUntilAnswering("root", process: fleet.process("root"))
            for mirror in fleet.fleet.mirrors {
                try fleet.start(name: mirror.name, executable: "casty-mirror", arguments: ["--fleet", fleet.fleet.fleetFile.path, "--name", mirror.name])
            }
            try await eventually(within: 20, "all \(mirrors) mirrors in the tree") { await fleet.fleet.tree().count == mirrors }
            try await fleet.fleet.waitUntilConnected()
        } catch {
            _ = try? await onThread { fleet.stopAll() }
            throw error
        }
        return fleet
    }

    private func start(name: String, executable: String, arguments: [String]) throws {
        let process = try ManagedProcess(
            name: name,
            executable: Paths.binary(executable),
            arguments: arguments + self.nodeArguments,
            logFolder: self.fleet.folder
        )
        self.lock.withLock { self.processes[name] = process }
    }

    func process(_ name: String) -> ManagedProcess? { self.lock.withLock { self.processes[name] } }

    /// The last `lines` lines of every node's log, for failure messages.
    func logTails(lines: Int = 15) -> String {
        let all = self.lock.withLock { self.processes.sorted { $0.key < $1.key } }
        return all.map { name, process in
            "--- \(name) (\(process.log.path)):\n" + process.output().split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func stopAll() {
        let all = self.lock.withLock { Array(self.processes.values) }
        for process in all { process.stop() }
    }

    /// The deepest mirror (the first by name among the deepest) and its depth.
    func deepestMirror() async -> (name: String, depth: Int)? {
        let tree = await self.fleet.tree()
        let depths = tree.keys.map { ($0, TestFleet.depth(of: $0, in: tree)) }
        return depths.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.first.map { (name: $0.0, depth: $0.1) }
    }
}

// MARK: - Commands

/// Output of `ffmpeg -v error -t SECONDS -i URL -f null -` (empty when it decoded without a word).
func ffmpegDecode(_ input: String, seconds: Double? = nil, timeout: Double = 40) throws -> (status: Int32, output: String) {
    var arguments = ["-nostdin", "-hide_banner", "-v", "error"]
    if let seconds { arguments += ["-t", "\(seconds)"] }
    arguments += ["-i", input, "-f", "null", "-"]
    let result = try runCommand("/usr/bin/ffmpeg", arguments, timeout: timeout)
    return (result.status, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// `ffprobe -v error -show_entries stream=codec_name -of csv=p=0 INPUT`.
func ffprobeCodec(_ input: String, timeout: Double = 30) throws -> (status: Int32, output: String) {
    let result = try runCommand(
        "/usr/bin/ffprobe",
        ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", input],
        timeout: timeout
    )
    return (result.status, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// What ffmpeg 5.1 prints on a live chained Ogg stream at a chain boundary, for Icecast's own
/// stream as for any other (scripts/testradio/README.md): its demuxer's complaint, not a decoding error.
let ffmpegChainBoundaryMessages = ["failed to create or replace stream", "non monotonically increasing dts"]

/// The lines of ffmpeg's output that are not one of `tolerated`.
func unexpectedLines(_ output: String, tolerating tolerated: [String]) -> [String] {
    output.split(separator: "\n").map(String.init).filter { line in !tolerated.contains { line.contains($0) } }
}

/// A head only: the reply head of a plain GET (Icecast answers HEAD with 400).
func fetchHead(port: Int, path: String) throws -> StreamClient.Received {
    try StreamClient.fetch(port: port, request: StreamClient.playerRequest(path: path, metadata: false), seconds: 0.7, maxBytes: 1)
}

// MARK: - Ogg pages

/// One Ogg page of a recording, read independently of Casty's own parser (RFC 3533).
struct OggPageInfo: Equatable {
    var offset: Int
    var length: Int
    var headerType: UInt8
    var granule: UInt64
    var serial: UInt32
    var sequence: UInt32
    var isBOS: Bool { self.headerType & 0x02 != 0 }
    var isEOS: Bool { self.headerType & 0x04 != 0 }
    var range: Range<Int> { self.offset..<self.offset + self.length }
}

enum OggPages {
    static let crcTable: [UInt32] = (0..<256).map { index -> UInt32 in
        var r = UInt32(index) << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }

    static func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0
        for (i, byte) in bytes.enumerated() {
            let b = i >= 22 && i < 26 ? 0 : byte  // the checksum field counts as zeros
            crc = (crc << 8) ^ Self.crcTable[Int(((crc >> 24) ^ UInt32(b)) & 0xFF)]
        }
        return crc
    }

    /// The pages of `bytes`, which must start with a page and be pages back to back; a last
    /// page cut short by the end of the recording is left out. Throws where it stops being Ogg.
    static func parse(_ bytes: [UInt8]) throws -> [OggPageInfo] {
        var pages: [OggPageInfo] = []
        var i = 0
        func le<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var v: T = 0
            for k in 0..<(T.bitWidth / 8) { v |= T(bytes[at + k]) << (8 * k) }
            return v
        }
        while i + 27 <= bytes.count {
            guard bytes[i..<i + 4].elementsEqual([0x4F, 0x67, 0x67, 0x53]), bytes[i + 4] == 0 else {
                throw TestFailure("no Ogg page at byte \(i) (after \(pages.count) pages): \(hex(bytes, at: i))")
            }
            let segments = Int(bytes[i + 26])
            guard i + 27 + segments <= bytes.count else { break }
            let bodyLength = bytes[i + 27..<i + 27 + segments].reduce(0) { $0 + Int($1) }
            let length = 27 + segments + bodyLength
            guard i + length <= bytes.count else { break }
            let stored = le(i + 22, UInt32.self)
            let computed = Self.crc(bytes[i..<i + length])
            guard stored == computed else {
                throw TestFailure("Ogg page at byte \(i) (page \(pages.count)) has a bad CRC (\(String(stored, radix: 16)) ≠ \(String(computed, radix: 16)))")
            }
            pages.append(
                OggPageInfo(
                    offset: i, length: length, headerType: bytes[i + 5], granule: le(i + 6, UInt64.self),
                    serial: le(i + 14, UInt32.self), sequence: le(i + 18, UInt32.self)))
            i += length
        }
        return pages
    }

    /// The header pages at the start of `pages`: the first page (a BOS page) and every page after
    /// it of granule position 0 (Vorbis, Opus and FLAC header pages have granule 0; audio pages never do).
    static func leadingHeaderPages(_ pages: [OggPageInfo]) -> [OggPageInfo] {
        guard let first = pages.first, first.isBOS else { return [] }
        return Array(pages.prefix { $0.granule == 0 && $0.serial == first.serial })
    }

    /// The header pages of chain `serial` in a recording (its BOS page and the granule-0 pages after it).
    static func headerPages(ofSerial serial: UInt32, in pages: [OggPageInfo]) -> [OggPageInfo] {
        guard let bos = pages.firstIndex(where: { $0.serial == serial && $0.isBOS }) else { return [] }
        return Array(pages[bos...].filter { $0.serial == serial }.prefix { $0.granule == 0 })
    }
}

// MARK: - ICY metadata blocks

/// The raw bytes of every metadata block of an ICY body with `metaint` (padding included; empty
/// blocks as empty arrays). A block cut by the end of the recording is left out.
func icyMetadataBlocks(_ body: [UInt8], metaint: Int) -> [[UInt8]] {
    var blocks: [[UInt8]] = []
    var i = metaint
    while i < body.count {
        let length = Int(body[i]) * 16
        guard i + 1 + length <= body.count else { break }
        blocks.append(Array(body[i + 1..<i + 1 + length]))
        i += 1 + length + metaint
    }
    return blocks
}

/// The bytes between `StreamTitle='` and `';` of a block, raw (Latin-1 or UTF-8, as sent).
func streamTitleBytes(_ block: [UInt8]) -> [UInt8]? {
    let key = Array("StreamTitle='".utf8)
    guard let start = find(key[...], in: block) else { return nil }
    let from = start + key.count
    let end = Array("';".utf8)
    guard let stop = find(end[...], in: Array(block[from...])) else { return nil }
    return Array(block[from..<from + stop])
}

// MARK: - Comparison

/// Hex of up to 16 bytes of `bytes` from `at`.
func hex(_ bytes: [UInt8], at: Int, count: Int = 16) -> String {
    guard at < bytes.count else { return "(end, \(bytes.count) bytes)" }
    return bytes[at..<min(bytes.count, at + count)].map { String(format: "%02x", $0) }.joined(separator: " ")
}

/// How a listener's recording lines up with Icecast's.
struct ContiguousMatch {
    /// Where the listener's byte `from` is in the reference.
    var referenceOffset: Int
    /// Bytes compared (all equal).
    var compared: Int
}

/// Checks that `listener[from...]` is a contiguous stretch of `reference`: its first `anchor`
/// bytes are found in `reference`, and from there every byte both recordings cover is equal, for
/// at least `minimum` bytes (or the whole rest of the listener's recording, if shorter). The
/// error says where the two diverge, with the bytes of both there.
func assertContiguous(
    _ listener: [UInt8], from: Int, in reference: [UInt8], anchor: Int = 4096, minimum: Int = 64 * 1024, what: String
) throws -> ContiguousMatch {
    let rest = listener.count - from
    guard rest >= min(anchor, minimum) else {
        throw TestFailure("\(what): only \(rest) bytes from its first audio byte \(from); recorded \(listener.count)")
    }
    let needle = listener[from..<from + min(anchor, rest)]
    guard let at = find(needle, in: reference) else {
        throw TestFailure(
            "\(what): its \(needle.count) bytes from its first audio byte \(from) (\(hex(listener, at: from))) do not occur in Icecast's recording of the mount (\(reference.count) bytes, starting \(hex(reference, at: 0)))"
        )
    }
    let overlap = min(rest, reference.count - at)
    for i in 0..<overlap where listener[from + i] != reference[at + i] {
        throw TestFailure(
            "\(what): diverges from Icecast's bytes after \(i) equal bytes: listener byte \(from + i) is \(hex(listener, at: from + i)), Icecast's byte \(at + i) is \(hex(reference, at: at + i)) (listener recorded \(listener.count) bytes, Icecast \(reference.count))"
        )
    }
    guard overlap >= min(minimum, rest) else {
        throw TestFailure(
            "\(what): equal to Icecast's bytes, but they overlap for only \(overlap) bytes (want \(min(minimum, rest))): Icecast's recording ends at its byte \(reference.count), listener's byte \(from) is Icecast's \(at)"
        )
    }
    return ContiguousMatch(referenceOffset: at, compared: overlap)
}

/// The Ogg comparison: the listener's leading header pages are its chain's header pages, equal to
/// the same chain's header pages in Icecast's recording; from its first audio page on, its bytes
/// are a contiguous stretch of Icecast's. Returns a one-line summary.
func assertSameOgg(_ listener: [UInt8], reference: [UInt8], what: String) throws -> String {
    let pages = try OggPages.parse(listener)
    let headers = OggPages.leadingHeaderPages(pages)
    guard let last = headers.last, let firstAudio = pages.dropFirst(headers.count).first else {
        throw TestFailure("\(what): does not start with a chain's header pages then audio (first pages: \(pages.prefix(4)))")
    }
    let referencePages = try OggPages.parse(Array(reference[(find(Array("OggS".utf8)[...], in: reference) ?? 0)...]))
    let referenceHeaders = OggPages.headerPages(ofSerial: last.serial, in: referencePages)
    let shift = find(Array("OggS".utf8)[...], in: reference) ?? 0
    let listenerHeaderBytes = Array(listener[0..<last.range.upperBound])
    let referenceHeaderBytes = referenceHeaders.flatMap { reference[($0.offset + shift)..<($0.offset + shift + $0.length)] }
    guard !referenceHeaders.isEmpty else {
        throw TestFailure("\(what): Icecast's recording has no header pages of the listener's chain (serial \(last.serial))")
    }
    guard listenerHeaderBytes == referenceHeaderBytes else {
        let at = zip(listenerHeaderBytes, referenceHeaderBytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(listenerHeaderBytes.count, referenceHeaderBytes.count)
        throw TestFailure(
            "\(what): its \(headers.count) header pages (\(listenerHeaderBytes.count) bytes) differ from Icecast's \(referenceHeaders.count) header pages of chain \(last.serial) (\(referenceHeaderBytes.count) bytes) at byte \(at): \(hex(listenerHeaderBytes, at: at)) vs \(hex(referenceHeaderBytes, at: at))"
        )
    }
    let match = try assertContiguous(listener, from: firstAudio.offset, in: reference, what: what)
    // Page sequence numbers count from 0 in each chain: a first audio page that does not follow
    // the header pages in the stream means the headers were sent ahead of it (not found in the ring).
    let adjacent = firstAudio.serial == last.serial && firstAudio.sequence == last.sequence + 1
    return "\(what): \(headers.count) header pages of chain \(last.serial) equal Icecast's; \(match.compared) bytes from the first audio page (byte \(firstAudio.offset), granule \(firstAudio.granule), page \(firstAudio.sequence) of its chain: \(adjacent ? "the headers' own successor" : "the headers were sent ahead of it")) equal Icecast's from its byte \(match.referenceOffset)"
}

// MARK: - Recordings and findings

/// A listener recorded by curl in the background (head and body to files), until `seconds` pass
/// or `finish()`/`stop()`; always stopped, like every ManagedProcess.
final class CurlRecording: Sendable {
    let process: ManagedProcess
    let headFile: URL
    let bodyFile: URL

    init(name: String, url: String, metadata: Bool, seconds: Double, folder: URL) throws {
        self.headFile = folder.appendingPathComponent("\(name).head")
        self.bodyFile = folder.appendingPathComponent("\(name).body")
        self.process = try ManagedProcess(
            name: "curl-\(name)",
            executable: URL(fileURLWithPath: "/usr/bin/curl"),
            arguments: ["-s", "-N", "--max-time", "\(seconds)", "-D", self.headFile.path, "-o", self.bodyFile.path]
                + (metadata ? ["-H", "Icy-MetaData: 1"] : []) + [url],
            logFolder: folder
        )
    }

    /// Waits for curl's end (at most `within` seconds, then stops it) and returns what it got.
    func finish(within seconds: Double = 30) async throws -> StreamClient.Received {
        let process = self.process
        _ = try await onThread {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            return process.stop()
        }
        return self.received()
    }

    func stop() { self.process.stop() }

    func received() -> StreamClient.Received {
        let head = (try? String(contentsOf: self.headFile, encoding: .isoLatin1)) ?? ""
        let body = (try? Data(contentsOf: self.bodyFile)).map { [UInt8]($0) } ?? []
        return StreamClient.Received(head: head, body: body, timeline: [], closedByServer: false)
    }
}

/// Problems found by a test that goes on checking; each becomes an `Issue.record` at the end.
/// `@unchecked Sendable`: `problems` and `notes`, its only mutable state, are used under `lock`.
final class Findings: @unchecked Sendable {
    private let lock = NSLock()
    private var problems: [String] = []
    private var notes: [String] = []
    let prefix: String

    init(prefix: String) { self.prefix = prefix }

    func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { self.fail(message()) }
    }

    func fail(_ message: String) { self.lock.withLock { self.problems.append(message) } }

    func note(_ message: String) {
        self.lock.withLock { self.notes.append(message) }
        print("[\(self.prefix)] \(message)")
    }

    /// Runs `body`; a thrown error is a finding, not the end of the test.
    @discardableResult
    func attempt<T>(_ what: String, _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            self.fail("\(what): \(error)")
            return nil
        }
    }

    var all: [String] { self.lock.withLock { self.problems } }
}
