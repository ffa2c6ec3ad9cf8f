import Foundation
import Testing

/// The status page, end to end: a real fleet (the ingest and 7 mirrors relaying the local test
/// radio), the root's `/status` opened in headless Chromium by `scripts/status-page-check.py`,
/// which checks the tree the page draws, that its player plays, and that a killed leaf shows as
/// down (or leaves the tree). The screenshot goes to a temporary folder, or to `docs/status.png`
/// (the picture in the docs) when `CASTY_UPDATE_SCREENSHOT=1`.
@Suite(.timeLimit(.minutes(3)))
struct StatusPageTests {
    @Test func statusPageDrawsTheTreePlaysAndShowsAKilledLeafDown() async throws {
        let radio = try await TestRadio(trackSeconds: 6)
        defer { radio.stop() }
        let fleet = try TestFleet(upstream: radio.url, mirrors: 7)
        defer { fleet.stopAll() }
        try fleet.startRoot()
        try await eventually(within: 10, "the root to answer") { await fleet.status("root") != nil }
        for mirror in fleet.mirrors { try fleet.startMirror(mirror.name) }
        try await eventually(within: 20, "all 7 mirrors in the tree") { await fleet.tree().count == 7 }

        let tree = await fleet.tree()
        let leaf = try #require(tree.keys.filter { name in !tree.values.contains(name) }.sorted().first)
        let leafPID = try #require(fleet.process(leaf)?.pid)

        let update = ProcessInfo.processInfo.environment["CASTY_UPDATE_SCREENSHOT"] == "1"
        let screenshot =
            update
            ? Paths.packageRoot.appendingPathComponent("docs/status.png")
            : try Paths.temporaryFolder("casty-status-page").appendingPathComponent("status.png")
        let arguments = [
            Paths.script("status-page-check.py").path,
            "http://127.0.0.1:\(fleet.port(of: "root"))/status",
            "--expect-nodes", "8",
            "--kill-pid", "\(leafPID)",
            "--expect-down", leaf,
            "--screenshot", screenshot.path,
            "--timeout", "75",
        ]
        let result = try await onThread { try runCommand("/usr/bin/python3", arguments, timeout: 100) }

        #expect(result.status == 0, "\(result.output.suffix(3000))")
        let line = try #require(
            result.output.split(separator: "\n").last { $0.hasPrefix("{") },
            "no JSON line from the check:\n\(result.output.suffix(3000))"
        )
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(report["ok"] as? Bool == true, "\(line)")
        #expect(report["nodes_seen"] as? Int == 8, "\(line)")
        #expect(report["tree_ok"] as? Bool == true, "\(line)")
        // The page drew the tree the root had when we looked (nothing moved in between).
        var expected = tree
        expected["root"] = ""
        #expect(report["parents"] as? [String: String] == expected, "\(line)")
        #expect(report["audio_ok"] as? Bool == true, "\(line)")
        #expect((report["current_time"] as? Double ?? 0) > 1.0, "\(line)")
        #expect(["down", "removed"].contains(report["down_detected"] as? String), "\(line)")
        #expect((report["page_exceptions"] as? [Any])?.isEmpty == true, "\(line)")

        // The screenshot is a PNG.
        let png = try Data(contentsOf: screenshot)
        #expect(png.count > 10_000, "screenshot of \(png.count) bytes")
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        if !update { try? FileManager.default.removeItem(at: screenshot.deletingLastPathComponent()) }
    }
}
