import NIOCore
import NIOPosix
import Testing
import CastyTestSupport

@testable import CastyControl

/// The control client against tiny NIO servers on loopback.
@Suite struct ControlClientTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    @Test func getsTheStatusAndBody() async throws {
        let server = try await TinyHTTPServer(group: Self.group, answer: .reply(status: .ok, body: #"{"listeners":3}"#))
        let client = ControlClient(group: Self.group)
        let reply = try await client.get(server.url + "/status.json?x=1%202", timeout: .seconds(2))
        #expect(reply.status == 200)
        #expect(String(buffer: reply.body) == #"{"listeners":3}"#)
        let request = try #require(server.requests.withLockedValue { $0.first })
        #expect(request.method == .GET)
        #expect(request.uri == "/status.json?x=1%202")
        #expect(request.headers["host"] == ["127.0.0.1:\(server.port)"])
        try await server.close()
    }

    @Test func returnsAnyStatusWithItsBody() async throws {
        let server = try await TinyHTTPServer(group: Self.group, answer: .reply(status: .forbidden, body: "no"))
        let reply = try await ControlClient(group: Self.group).get(server.url + "/casty/v1/lost?v=1", timeout: .seconds(2))
        #expect(reply.status == 403)
        #expect(String(buffer: reply.body) == "no")
        try await server.close()
    }

    @Test func readsABodyThatEndsWithTheConnection() async throws {
        // Casty's nodes answer HTTP/1.0 and close: the body is what came before the close.
        let body = String(repeating: "x", count: 100_000)
        let server = try await TinyHTTPServer(group: Self.group, answer: .replyUntilClose(status: .ok, body: body))
        let reply = try await ControlClient(group: Self.group).get(server.url + "/", timeout: .seconds(2))
        #expect(reply.status == 200)
        #expect(reply.body.readableBytes == 100_000)
        try await server.close()
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        try await onDedicatedThread {
            let server = try await TinyHTTPServer(group: Self.group, answer: .never)
            let clock = ContinuousClock()
            let started = clock.now
            await #expect(throws: ControlClient.Failure.timedOut(after: .milliseconds(300))) {
                try await ControlClient(group: Self.group).get(server.url + "/status.json", timeout: .milliseconds(300))
            }
            let took = clock.now - started
            #expect(took >= .milliseconds(290))
            #expect(took < atOnce)
            try await server.close()
        }
    }

    @Test func aRefusedConnectionFailsAtOnce() async throws {
        try await onDedicatedThread {
            // A port that was just free: nothing listens on it.
            let server = try await TinyHTTPServer(group: Self.group, answer: .never)
            let port = server.port
            try await server.close()
            let clock = ContinuousClock()
            let started = clock.now
            do throws(ControlClient.Failure) {
                _ = try await ControlClient(group: Self.group).get("http://127.0.0.1:\(port)/", timeout: .seconds(30))
                Issue.record("a closed port answered")
            } catch {
                guard case .connectFailed(let reason) = error else {
                    Issue.record("expected connectFailed, got \(error)")
                    return
                }
                #expect(reason.lowercased().contains("refused"), "\(reason)")
                #expect(reason.contains("127.0.0.1"), "\(reason)")
            }
            #expect(clock.now - started < atOnce)
        }
    }

    @Test func aBodyOverTheCapFails() async throws {
        let server = try await TinyHTTPServer(group: Self.group, answer: .reply(status: .ok, body: String(repeating: "y", count: 5000)))
        let client = ControlClient(group: Self.group, maxBodyBytes: 4096)
        await #expect(throws: ControlClient.Failure.bodyTooLarge(limit: 4096)) {
            try await client.get(server.url + "/", timeout: .seconds(2))
        }
        // A body at the cap is fine.
        let exact = try await ControlClient(group: Self.group, maxBodyBytes: 5000).get(server.url + "/", timeout: .seconds(2))
        #expect(exact.body.readableBytes == 5000)
        try await server.close()
    }

    @Test func aConnectionClosedWithoutAReplyFails() async throws {
        let server = try await TinyHTTPServer(group: Self.group, answer: .close)
        await #expect(throws: ControlClient.Failure.connectionLost("closed without a reply")) {
            try await ControlClient(group: Self.group).get(server.url + "/", timeout: .seconds(2))
        }
        try await server.close()
    }

    @Test func aReplyThatIsNotHTTPFails() async throws {
        let server = try await TinyHTTPServer(group: Self.group, answer: .garbage)
        do {
            _ = try await ControlClient(group: Self.group).get(server.url + "/", timeout: .seconds(2))
            Issue.record("garbage was taken for a reply")
        } catch {
            guard case .malformedReply = error else {
                Issue.record("expected malformedReply, got \(error)")
                return
            }
        }
        try await server.close()
    }

    @Test func cancellingTheTaskEndsTheRequestAtOnce() async throws {
        try await onDedicatedThread {
            let server = try await TinyHTTPServer(group: Self.group, answer: .never)
            let url = server.url
            let clock = ContinuousClock()
            let cancelled = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await #expect(throws: ControlClient.Failure.cancelled) {
                        try await ControlClient(group: Self.group).get(url + "/", timeout: .seconds(30))
                    }
                }
                // Cancelled while the request is under way: once the server has it.
                try await eventually("the request to reach the server") { server.requests.withLockedValue { $0.count } == 1 }
                group.cancelAll()
                return clock.now
            }
            #expect(clock.now - cancelled < atOnce)
            #expect(server.requests.withLockedValue { $0.count } == 1)
            try await server.close()
        }
    }

    @Test(arguments: ["https://127.0.0.1/", "127.0.0.1:80/", "http://", "http://user@host/", "http://host:0/", "http://host:99999/", "http://host:8a/", "http://[::1/"])
    func refusesURLsItCannotRequest(url: String) async {
        await #expect(throws: ControlClient.Failure.unsupportedURL(url)) {
            try await ControlClient(group: Self.group).get(url, timeout: .seconds(1))
        }
    }

    @Test func splitsURLs() throws {
        #expect(try ControlURL("http://127.0.0.1:8000/status.json") == ControlURL(host: "127.0.0.1", port: 8000, target: "/status.json", hostHeader: "127.0.0.1:8000"))
        #expect(try ControlURL("HTTP://example.org") == ControlURL(host: "example.org", port: 80, target: "/", hostHeader: "example.org"))
        #expect(try ControlURL("http://[::1]:9000/casty/v1/lost?v=1&name=m1#x") == ControlURL(host: "::1", port: 9000, target: "/casty/v1/lost?v=1&name=m1", hostHeader: "[::1]:9000"))
        #expect(try ControlURL("http://h?q=1") == ControlURL(host: "h", port: 80, target: "/?q=1", hostHeader: "h"))
    }
}
