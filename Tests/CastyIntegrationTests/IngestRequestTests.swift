import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// How casty-ingest answers requests that are not a player's, and how it stops.
    @Suite(.timeLimit(.minutes(2)))
    struct IngestRequestTests {
        func fetch(_ ingest: IngestNode, _ request: String, seconds: Double = 3) async throws -> StreamClient.Received {
            let port = ingest.port
            return try await onThread { try StreamClient.fetch(port: port, request: request, seconds: seconds) }
        }

        @Test func answersBadRequestsClearlyAndStopsOnSIGTERM() async throws {
            // No upstream listens here: the ingest keeps retrying and serves anyway.
            let deadPort = try freePort()
            let ingest = try await IngestNode(upstream: "http://127.0.0.1:\(deadPort)/", extraArguments: ["--request-timeout", "500", "--max-listeners", "1"])

            let garbage = try await self.fetch(ingest, "HELLO THERE\r\n\r\n")
            #expect(garbage.statusLine == "HTTP/1.0 400 Bad Request")
            #expect(String(decoding: garbage.body, as: UTF8.self).contains("request line"))
            #expect(garbage.closedByServer)

            let huge = try await self.fetch(ingest, "GET / HTTP/1.0\r\nX-Big: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
            #expect(huge.statusLine == "HTTP/1.0 431 Request Header Fields Too Large")

            let post = try await self.fetch(ingest, "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
            #expect(post.statusLine == "HTTP/1.0 405 Method Not Allowed")
            #expect(post.header("allow") == "GET, HEAD, OPTIONS")

            let silent = try await self.fetch(ingest, "GET / HTTP/1.0\r\n", seconds: 3)
            #expect(silent.statusLine == "HTTP/1.0 408 Request Timeout")
            #expect(silent.timeline.first.map { $0.seconds < 2 } == true)

            let preflight = try await self.fetch(ingest, "OPTIONS / HTTP/1.1\r\nOrigin: http://example.test\r\nAccess-Control-Request-Headers: icy-metadata\r\n\r\n")
            #expect(preflight.statusLine == "HTTP/1.0 204 No Content")
            #expect(preflight.header("access-control-allow-origin") == "*")
            #expect(preflight.header("access-control-allow-headers")?.contains("Icy-MetaData") == true)

            // --max-listeners 1: a second player is told the node is full.
            let port = ingest.port
            // The first player stays long enough to be there, counted, when the second asks.
            async let first = onThread { try StreamClient.fetch(port: port, request: StreamClient.playerRequest(metadata: false), seconds: 4) }
            try await eventually(within: 3, "the first player counted") { (try await ingest.status()["listeners"] as? Int) == 1 }
            let second = try await self.fetch(ingest, StreamClient.playerRequest(metadata: false), seconds: 1)
            #expect(second.statusLine == "HTTP/1.0 503 Service Unavailable")
            #expect(String(decoding: second.body, as: UTF8.self).contains("full"))
            #expect(try await first.statusLine == "HTTP/1.0 200 OK")

            let status = try await ingest.status()
            for key in ["role", "name", "stream", "upstream", "listeners", "uptime_s", "bytes_out"] {
                #expect(status[key] != nil, "status.json lacks \(key)")
            }
            #expect(status["role"] as? String == "ingest")
            #expect(try await ingest.upstreamState().hasPrefix("retrying"))
            #expect(ingest.process.output().contains("Connection refused") || ingest.process.output().contains("Couldn't connect"))

            #expect(ingest.process.isRunning, "bad requests must never bring the node down")
            let exitStatus = ingest.process.stop(signal: SIGTERM, seconds: 5)
            #expect(exitStatus == 0)
        }
    }
}
