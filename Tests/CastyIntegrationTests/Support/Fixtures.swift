import Foundation

/// The local test radio: Icecast 2 fed by ffmpeg (scripts/test-radio.sh).
final class TestRadio: Sendable {
    let port: Int
    let folder: URL
    var url: String { "http://127.0.0.1:\(self.port)/stream" }

    /// `format` is test-radio.sh's `--format` (mp3 by default); `unicodeTitles` passes
    /// `--unicode-titles`; `noise` sets TRACK_NOISE=1 (no two frames alike).
    init(trackSeconds: Int, format: String = "mp3", unicodeTitles: Bool = false, noise: Bool = false) async throws {
        self.port = try freePort()
        self.folder = try Paths.temporaryFolder("casty-radio")
        let script = Paths.script("test-radio.sh").path
        let (port, folder) = (self.port, self.folder)
        var arguments = [script, "start", "--port", "\(port)", "--dir", folder.path]
        if format != "mp3" { arguments += ["--format", format] }
        if unicodeTitles { arguments.append("--unicode-titles") }
        let environment = ["TRACK_SECONDS": "\(trackSeconds)"].merging(noise ? ["TRACK_NOISE": "1"] : [:]) { $1 }
        let result = try await onThread { [arguments] in
            try runCommand("/bin/bash", arguments, environment: environment)
        }
        guard result.status == 0 else { throw TestFailure("test radio did not start (exit \(result.status)):\n\(result.output)") }
    }

    /// Stops Icecast and its source; blocks until they are gone (so a `defer` really stops them).
    func stop() {
        _ = try? runCommand("/bin/bash", [Paths.script("test-radio.sh").path, "stop", "--dir", self.folder.path])
    }
}

/// The SHOUTcast-v1-style test server, answering `ICY 200 OK` (Tests/Fixtures/shoutcast-v1.py).
final class ShoutcastServer: Sendable {
    let port: Int
    let process: ManagedProcess

    init(port: Int? = nil, mp3: URL, logFolder: URL, titleEvery: Double = 2, extraArguments: [String] = []) async throws {
        self.port = try port ?? freePort()
        self.process = try ManagedProcess(
            name: "shoutcast-\(self.port)-\(UUID().uuidString.prefix(4))",
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: [Paths.fixture("shoutcast-v1.py").path, "--port", "\(self.port)", "--mp3", mp3.path, "--metaint", "8192", "--title-every", "\(titleEvery)"] + extraArguments,
            logFolder: logFolder
        )
        let process = self.process
        try await eventually(within: 10, "the SHOUTcast test server to listen") { process.output().contains("listening on") }
    }

    var url: String { "http://127.0.0.1:\(self.port)/" }
}

/// Tests/Fixtures/raw-stream.py: a file looped at a paced rate, and fixed bodies at given paths;
/// with `silentAfter`, its first stream client gets that many seconds, then silence on a
/// connection that stays open.
final class RawServer: Sendable {
    let port: Int
    let process: ManagedProcess

    init(
        folder: URL, file: URL? = nil, contentType: String = "audio/mpeg", rate: Int = 16_000, silentAfter: Double? = nil,
        routes: [(path: String, contentType: String, file: URL)] = []
    ) async throws {
        self.port = try freePort()
        var arguments = [Paths.fixture("raw-stream.py").path, "--port", "\(self.port)"]
        if let file { arguments += ["--file", file.path, "--content-type", contentType, "--rate", "\(rate)"] }
        if let silentAfter { arguments += ["--silent-after", "\(silentAfter)"] }
        for route in routes { arguments += ["--route", "\(route.path)=\(route.contentType)=\(route.file.path)"] }
        self.process = try ManagedProcess(
            name: "raw-stream-\(self.port)",
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: arguments,
            logFolder: folder
        )
        let process = self.process
        try await eventually(within: 10, "raw-stream.py to listen") { process.output().contains("listening on") }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(self.port)\(path)" }
}

/// Test MP3 files made by scripts/testradio/make-mp3s.sh.
func makeTestMP3s(count: Int, seconds: Int) async throws -> [URL] {
    let folder = try Paths.temporaryFolder("casty-mp3")
    let script = Paths.script("testradio/make-mp3s.sh").path
    let result = try await onThread {
        try runCommand("/bin/bash", [script, folder.path, "\(count)"], environment: ["TRACK_SECONDS": "\(seconds)"])
    }
    guard result.status == 0 else { throw TestFailure("make-mp3s failed:\n\(result.output)") }
    let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "mp3" }
    return files.sorted { $0.path < $1.path }
}

/// A running `casty-ingest`.
final class IngestNode: Sendable {
    let port: Int
    let process: ManagedProcess
    let logFolder: URL

    init(upstream: String, extraArguments: [String] = []) async throws {
        self.port = try freePort()
        self.logFolder = try Paths.temporaryFolder("casty-ingest")
        self.process = try ManagedProcess(
            name: "ingest",
            executable: Paths.binary("casty-ingest"),
            arguments: [upstream, "--host", "127.0.0.1", "--port", "\(self.port)"] + extraArguments,
            logFolder: self.logFolder
        )
        let port = self.port
        try await eventually(within: 10, "casty-ingest to answer /status.json") {
            (try? await onThread { try StreamClient.fetch(port: port, request: "GET /status.json HTTP/1.0\r\n\r\n", seconds: 1) })?.statusLine.contains("200") == true
        }
    }

    /// `/status.json`, parsed.
    func status() async throws -> [String: Any] {
        let port = self.port
        let received = try await onThread { try StreamClient.fetch(port: port, request: "GET /status.json HTTP/1.0\r\n\r\n", seconds: 2) }
        guard let object = try JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any] else {
            throw TestFailure("status.json is not a JSON object: \(String(decoding: received.body, as: UTF8.self))")
        }
        return object
    }

    func seq() async throws -> Int? { try await self.status()["seq"] as? Int }

    func upstreamState() async throws -> String {
        ((try await self.status()["upstream"] as? [String: Any])?["state"] as? String) ?? ""
    }

    /// Fetches the stream for `seconds`; `answered` is set once the node's head is in.
    func listen(metadata: Bool, seconds: Double, answered: Latch? = nil) async throws -> StreamClient.Received {
        let port = self.port
        return try await onThread {
            try StreamClient.fetch(port: port, request: StreamClient.playerRequest(metadata: metadata), seconds: seconds, answered: answered)
        }
    }
}
