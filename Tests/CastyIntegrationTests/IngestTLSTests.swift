import CastyTestSupport
import Foundation
import Testing

extension IntegrationTests.Fleets {
    /// https on a node's one port beside http, a certificate renewed on SIGHUP without touching
    /// an open connection, and a bad certificate refused at start in one line.
    @Suite(.timeLimit(.minutes(2)))
    struct IngestTLSTests {
        /// The peer certificate's serial a new handshake with `port` gets (openssl s_client).
        static func presentedSerial(port: Int) throws -> String {
            let result = try runCommand("/bin/sh", ["-c", "echo | openssl s_client -connect 127.0.0.1:\(port) -servername localhost 2>/dev/null | openssl x509 -noout -serial"])
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "").lowercased()
        }

        @Test func servesHTTPAndHTTPSOnOnePortAndRenewsOnSIGHUP() async throws {
            let radio = try await TestRadio(trackSeconds: 6)
            defer { radio.stop() }
            let ca = try TestCertificateAuthority()
            defer { ca.remove() }
            let first = try ca.issue("first", serial: 0x1111)
            let live = (cert: ca.folder.appendingPathComponent("live-fullchain.pem").path, key: ca.folder.appendingPathComponent("live-privkey.pem").path)
            func install(_ files: [(String, String)]) throws {
                for (from, to) in files {
                    // As certbot does: the live names are replaced, not written in place.
                    let staged = to + ".new"
                    try? FileManager.default.removeItem(atPath: staged)
                    try FileManager.default.copyItem(atPath: from, toPath: staged)
                    _ = rename(staged, to)
                }
            }
            try install([(first.fullchain, live.cert), (first.key, live.key)])
            let ingest = try await IngestNode(upstream: radio.url, extraArguments: ["--tls-cert", live.cert, "--tls-key", live.key])
            let port = ingest.port
            try await eventually(within: 10, "the ingest to pull the radio") { try await ingest.seq() != nil }

            // A plain player, as before.
            let plain = try await ingest.listen(metadata: false, seconds: 2)
            #expect(plain.statusLine == "HTTP/1.0 200 OK")
            #expect(plain.body.count > 16_000)

            // An https player on the same port: ffmpeg decodes it, trusting the test root.
            let decoded = try await onThread {
                try runCommand("/usr/bin/ffmpeg", ["-nostdin", "-v", "error", "-ca_file", ca.rootCertificate, "-i", "https://localhost:\(port)/", "-t", "3", "-f", "null", "-"], timeout: 20)
            }
            #expect(decoded.status == 0, "ffmpeg over https: \(decoded.output)")
            #expect(decoded.output.isEmpty, "decode errors: \(decoded.output)")
            #expect(try await onThread { try Self.presentedSerial(port: port) } == "1111")

            // A listener over https stays connected across the renewal.
            let recording = ca.folder.appendingPathComponent("across.mp3").path
            let across = try ManagedProcess(
                name: "curl", executable: URL(fileURLWithPath: "/usr/bin/curl"),
                arguments: ["-sS", "--cacert", ca.rootCertificate, "-o", recording, "https://localhost:\(port)/"], logFolder: ca.folder
            )
            defer { across.stop() }
            @Sendable func recorded() -> Int { ((try? FileManager.default.attributesOfItem(atPath: recording)[.size]) as? Int) ?? 0 }
            try await eventually(within: 10, "the https listener to get audio") { recorded() > 0 }

            let second = try ca.issue("second", serial: 0x2222)
            try install([(second.fullchain, live.cert), (second.key, live.key)])
            kill(ingest.process.pid, SIGHUP)
            try await eventually(within: 10, "new handshakes to present the renewed certificate") {
                (try? await onThread { try Self.presentedSerial(port: port) }) == "2222"
            }
            let atRenewal = recorded()
            try await eventually(within: 10, "the listener connected before the renewal to go on") { recorded() > atRenewal + 16_000 }
            #expect(across.isRunning, "the open https connection was not dropped")

            // A broken renewal keeps the renewed certificate serving.
            try Data("-----BEGIN CERTIFICATE-----\ntruncated\n".utf8).write(to: URL(fileURLWithPath: live.cert))
            kill(ingest.process.pid, SIGHUP)
            try await eventually(within: 10, "the node to say it kept the old certificate") { ingest.process.output().contains("kept the old TLS certificate") }
            #expect(try await onThread { try Self.presentedSerial(port: port) } == "2222")
            #expect(ingest.process.stop(signal: SIGTERM) == 0)
        }

        @Test func aStalledHandshakeIsClosedLikeASlowRequest() async throws {
            let ca = try TestCertificateAuthority()
            defer { ca.remove() }
            let node = try ca.issue("node", serial: 1)
            let deadPort = try freePort()
            let ingest = try await IngestNode(
                upstream: "http://127.0.0.1:\(deadPort)/", extraArguments: ["--tls-cert", node.fullchain, "--tls-key", node.key, "--request-timeout", "500"]
            )
            let port = ingest.port
            // The first bytes of a TLS record, then nothing.
            let stalled = try await onThread { try StreamClient.fetch(port: port, request: "\u{16}\u{03}\u{01}\u{00}", seconds: 5) }
            #expect(stalled.closedByServer, "a handshake that never ends holds no connection")
            #expect(stalled.body.isEmpty && stalled.head.isEmpty)
            #expect(ingest.process.stop(signal: SIGTERM) == 0)
        }

        @Test func aBadCertificateAtStartIsOneLineAndExitStatus1() async throws {
            let ca = try TestCertificateAuthority()
            defer { ca.remove() }
            let node = try ca.issue("node", serial: 1)
            let other = try ca.issue("other", serial: 2)
            let missing = ca.folder.appendingPathComponent("missing.pem").path
            let ingest = Paths.binary("casty-ingest").path
            for (cert, key, said) in [
                (missing, node.key, "cannot read \(missing): no such file"),
                (node.fullchain, other.key, "does not belong to the certificate"),
            ] {
                let result = try await onThread {
                    try runCommand(ingest, ["http://127.0.0.1:9/", "--port", "0", "--tls-cert", cert, "--tls-key", key], timeout: 10)
                }
                #expect(result.status == 1)
                let lines = result.output.split(separator: "\n")
                #expect(lines.count == 1, "one line: \(result.output)")
                #expect(lines.first?.hasPrefix("casty-ingest: error: ") == true)
                #expect(result.output.contains(said), "\(result.output)")
            }
        }
    }
}
