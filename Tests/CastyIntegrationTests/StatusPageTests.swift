import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// The status page, end to end: a real fleet (the ingest and 7 mirrors relaying the local test
    /// radio), the root's `/status` opened in headless Chromium by `Tests/Fixtures/status-page-check.py`,
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
            // Stopping blocks for seconds: do it on a thread of its own, not on the cooperative pool
            // the tests running in parallel need; the defers above then find (almost) nothing to do.
            let stop = { @Sendable in
                fleet.stopAll()
                radio.stop()
            }
            do {
                try await self.check(fleet: fleet)
            } catch {
                _ = try? await onThread(stop)
                throw error
            }
            _ = try? await onThread(stop)
        }

        private func check(fleet: TestFleet) async throws {
            try fleet.startRoot()
            try await fleet.waitUntilAnswering("root", process: fleet.process("root"))
            for mirror in fleet.mirrors { try fleet.startMirror(mirror.name) }
            try await eventually(within: 20, "all 7 mirrors in the tree") { await fleet.tree().count == 7 }

            let tree = await fleet.tree()
            let leaf = try #require(tree.keys.filter { name in !tree.values.contains(name) }.sorted().first)
            let leafPID = try #require(fleet.process(leaf)?.pid)

            // A mirror's page: its own stream plays, and the tree comes from the root (cross-origin).
            let mirror = try #require(tree.keys.filter { $0 != leaf }.sorted().first)
            let shots = try Paths.temporaryFolder("casty-status-page")
            let mirrorPage = [
                Paths.fixture("status-page-check.py").path,
                "http://127.0.0.1:\(fleet.port(of: mirror))/status",
                "--expect-nodes", "8",
                "--screenshot", shots.appendingPathComponent("\(mirror).png").path,
                "--timeout", "30",
            ]
            let mirrorRun = try await onThread { try runCommand("/usr/bin/python3", mirrorPage, timeout: 45) }
            print("status-page-check (\(mirror)): \(mirrorRun.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? "no JSON line")")
            #expect(mirrorRun.status == 0, "\(mirror)'s page:\n\(mirrorRun.output.suffix(3000))")

            // The root's page; then the leaf is killed.
            let update = ProcessInfo.processInfo.environment["CASTY_UPDATE_SCREENSHOT"] == "1"
            let screenshot =
                update
                ? Paths.packageRoot.appendingPathComponent("docs/status.png")
                : shots.appendingPathComponent("status.png")
            let arguments = [
                Paths.fixture("status-page-check.py").path,
                "http://127.0.0.1:\(fleet.port(of: "root"))/status",
                "--expect-nodes", "8",
                "--kill-pid", "\(leafPID)",
                "--expect-down", leaf,
                "--screenshot", screenshot.path,
                "--timeout", "60",
            ]
            let result = try await onThread { try runCommand("/usr/bin/python3", arguments, timeout: 80) }

            #expect(result.status == 0, "\(result.output.suffix(3000))")
            let line = try #require(
                result.output.split(separator: "\n").last { $0.hasPrefix("{") },
                "no JSON line from the check:\n\(result.output.suffix(3000))"
            )
            print("status-page-check: \(line)")
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
        }
    }
}
