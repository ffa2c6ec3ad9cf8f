import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// `/metrics` parses as Prometheus text, and its values move when players come and go.
    @Suite(.timeLimit(.minutes(2)))
    struct MetricsTests {
        /// Parses the exposition with prometheus_client's parser (Debian's python3-prometheus-client)
        /// and returns `name{labels} value` samples as a dictionary by sample name.
        func scrape(_ ingest: IngestNode) async throws -> [String: Double] {
            let port = ingest.port
            let received = try await onThread { try StreamClient.fetch(port: port, request: "GET /metrics HTTP/1.0\r\n\r\n", seconds: 2) }
            #expect(received.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let file = try Paths.temporaryFolder("casty-metrics").appendingPathComponent("metrics.txt")
            try Data(received.body).write(to: file)
            let parser = """
                import json, sys
                from prometheus_client.parser import text_string_to_metric_families
                samples = {}
                for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                    for sample in family.samples:
                        samples[sample.name] = sample.value
                print(json.dumps(samples))
                """
            let result = try await onThread { try runCommand("/usr/bin/python3", ["-c", parser, file.path]) }
            #expect(result.status == 0, "prometheus_client could not parse /metrics: \(result.output)")
            let line = result.output.split(separator: "\n").last.map(String.init) ?? "{}"
            return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Double]) ?? [:]
        }

        @Test func countersMoveWhenPlayersComeAndGo() async throws {
            let mp3 = try await makeTestMP3s(count: 1, seconds: 10)[0]
            let logs = try Paths.temporaryFolder("casty-metrics")
            let upstream = try await ShoutcastServer(mp3: mp3, logFolder: logs)
            defer { upstream.process.stop() }
            let ingest = try await IngestNode(upstream: upstream.url)
            defer { ingest.process.stop() }
            try await eventually(within: 10, "a few segments") { (try await ingest.seq() ?? -1) >= 2 }

            let before = try await self.scrape(ingest)
            #expect(before["casty_listeners"] == 0)
            #expect((before["casty_segments_in_total"] ?? 0) >= 3)
            let bytesBefore = before["casty_bytes_out_total"] ?? -1

            // Two players, there long enough for the counters to show them while they listen.
            async let first = ingest.listen(metadata: true, seconds: 6)
            async let second = ingest.listen(metadata: false, seconds: 6)
            try await eventually(within: 4, "both players counted and segments sent to them") {
                let metrics = try await self.scrape(ingest)
                return metrics["casty_listeners"] == 2 && (metrics["casty_segments_out_total"] ?? 0) >= 2
                    && (metrics["casty_bytes_out_total"] ?? 0) > bytesBefore
            }
            let during = try await self.scrape(ingest)
            #expect(during["casty_listeners"] == 2)
            #expect((during["casty_bytes_out_total"] ?? 0) > bytesBefore)
            #expect((during["casty_segments_out_total"] ?? 0) >= 2)
            #expect((during["casty_segments_in_total"] ?? 0) >= (before["casty_segments_in_total"] ?? 0))
            _ = try await (first, second)

            try await eventually(within: 5, "the players to be gone from the metrics") { try await self.scrape(ingest)["casty_listeners"] == 0 }
            let after = try await self.scrape(ingest)
            #expect((after["casty_bytes_out_total"] ?? 0) >= (during["casty_bytes_out_total"] ?? 0), "counters never go back")
            #expect(after["casty_upstream_reconnects_total"] == 0)
        }
    }
}
