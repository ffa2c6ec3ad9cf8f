@testable import CastyServer
import CastyICY
import CastyPeerProtocol
import CastyTree
import NIOCore
import Testing

@Suite struct NodeRouteTests {
    @Test(arguments: [
        ("OPTIONS", "/anything", NodeRoute.preflight),
        ("GET", "/casty/v1/join?v=1&name=m1", .peerJoin),
        ("GET", "/casty/v1/lost?v=1", .lossReport),
        ("GET", "/casty/v1/root?v=2&name=root2", .rootQuery),
        ("GET", "/metrics", .metrics),
        ("GET", "/status", .statusPage(headOnly: false)),
        ("HEAD", "/status", .statusPage(headOnly: true)),
        ("GET", "/status.json?x=1", .statusJSON(headOnly: false)),
        ("HEAD", "/status.json", .statusJSON(headOnly: true)),
        ("GET", "/", .stream),
        ("GET", "/;stream.mp3", .stream),
        ("HEAD", "/stream", .stream),
        ("GET", "/casty/v1/joinx", .stream),
        ("HEAD", "/casty/v1/join", .stream),
        ("POST", "/", .methodNotAllowed),
        ("SOURCE", "/stream", .methodNotAllowed),
    ])
    func routesByMethodAndPath(_ method: String, _ target: String, _ route: NodeRoute) {
        #expect(NodeRoute(method: method, target: target) == route)
    }

    @Test func aPlainResponseIsACompleteHTTP10AnswerWithCORS() {
        var buffer = ByteBuffer()
        PlainResponse.methodNotAllowed("PUT").write(to: &buffer)
        #expect(
            String(buffer: buffer)
                == "HTTP/1.0 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 35\r\nConnection: close\r\n"
                + "Allow: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Origin: *\r\n\r\nmethod PUT is not allowed; use GET\n"
        )
    }

    @Test func headOnlyKeepsTheLengthAndDropsTheBody() {
        var buffer = ByteBuffer()
        PlainResponse(code: 200, body: "{}\n", contentType: "application/json", headOnly: true).write(to: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(text.contains("Content-Length: 3\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func aPreflightSetsItsOwnCORSHeadersOnce() {
        var buffer = ByteBuffer()
        PlainResponse.preflight.write(to: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("HTTP/1.0 204 No Content\r\n"))
        #expect(text.components(separatedBy: "Access-Control-Allow-Origin").count == 2)
        #expect(text.contains("Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"))
    }

    @Test func refusedRequestsAre431WhenTooLargeAnd400Otherwise() {
        #expect(PlainResponse.refused(ICYError(.headTooLong, offset: 0, detail: "x")).code == 431)
        #expect(PlainResponse.refused(ICYError(.headerLineTooLong, offset: 0, detail: "x")).code == 431)
        #expect(PlainResponse.refused(ICYError(.malformedHeaderLine, offset: 0, detail: "x")).code == 400)
        #expect(PlainResponse(code: 426, body: "").reason == "Upgrade Required")
        #expect(PlainResponse(code: 599, body: "").reason == "Error")
    }

    @Test func decisionsMapToTheStatusCodesOfTheProtocol() {
        let cases: [(JoinPolicy.Refusal, Int)] = [
            (.unsupportedVersion(3), 426), (.badProof, 403), (.nonceTooLong, 403), (.staleNonce, 403), (.replayedNonce, 403),
            (.notInTree, 503), (.notAMirror("x"), 403), (.ancestor("m6"), 409), (.coordinator(reason: "no"), 403), (.notRoot, 404),
        ]
        for (refusal, code) in cases {
            let response = PlainResponse.refusal(refusal, node: "m1")
            #expect(response.code == code, "\(refusal)")
            #expect(response.body == refusal.reason(node: "m1") + "\n")
        }
        var buffer = ByteBuffer()
        PlainResponse.redirect(to: "http://h:1/casty/v1/join?v=2").write(to: &buffer)
        #expect(
            String(buffer: buffer)
                == "HTTP/1.0 307 Temporary Redirect\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nConnection: close\r\n"
                + "Location: http://h:1/casty/v1/join?v=2\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
        )
    }

    @Test func lossReportsAreRefusedWithTheirReasonAtAMirror() {
        let mirror = PeerDirectory(name: "m1", fleet: PeerConnectionHandlerTests.fleet)
        #expect(mirror.childLost(LossReport(reporter: "m3", child: "m7", secret: "s3cret")) == .failure(.notRoot))
        #expect(PlainResponse.refusal(.notRoot, node: "m1") == PlainResponse(code: 404, body: "only the root takes loss reports and leave notices\n"))
    }
}
