import CastyPeerProtocol
import Testing

@Suite struct JoinRequestTests {
    @Test func roundTripsThroughItsTarget() throws {
        let request = JoinRequest(name: "m 1/é", from: 1234, stream: "abcd", lost: "m0", secret: "s3cret")
        let parsed = try JoinRequest(target: request.target)
        #expect(parsed == request)
        #expect(parsed.hasValidProof(secret: "s3cret"))
        #expect(!parsed.hasValidProof(secret: "other"))
        #expect(parsed.nonceTime != nil)
    }

    @Test func theTermRoundTripsAndIsAbsentUnlessGiven() throws {
        let request = JoinRequest(name: "m1", from: 5, stream: "abcd", term: 3, secret: "s3cret")
        #expect(request.target.contains("&term=3&"))
        #expect(try JoinRequest(target: request.target) == request)
        let plain = JoinRequest(name: "m1", from: 5, stream: "abcd", secret: "s3cret")
        #expect(!plain.target.contains("term="))
        #expect(try JoinRequest(target: plain.target).term == nil)
        #expect(throws: PeerProtocolError.self) { try JoinRequest(target: "/casty/v1/join?v=2&name=a&nonce=1&proof=2&term=x") }
    }

    @Test func aForgedNameDoesNotMatchTheProof() throws {
        let request = JoinRequest(name: "m1", from: nil, stream: nil, secret: "s3cret")
        let forged = try JoinRequest(target: request.target.replacingOccurrences(of: "name=m1", with: "name=m2"))
        #expect(forged.name == "m2")
        #expect(!forged.hasValidProof(secret: "s3cret"))
    }

    /// Found by fuzzing: a report parsed from a forged target, whose proof held `&` or `%`, wrote
    /// a different target back.
    @Test func lossReportsRoundTripWhateverTheirFieldsHold() throws {
        var report = LossReport(reporter: "m 1", child: "m&2", secret: "s3cret")
        #expect(try LossReport(target: report.target) == report)
        report.proof = "a&b=c%d e"
        report.nonce = "1-%zz&x"
        #expect(try LossReport(target: report.target) == report)
    }

    @Test(arguments: [
        "/casty/v1/join?name=a&nonce=1&proof=2",
        "/casty/v1/join?v=1&nonce=1&proof=2",
        "/casty/v1/join?v=1&name=a",
        "/casty/v1/join?v=1&name=a&nonce=1&proof=2&from=-3",
        "/elsewhere?v=1&name=a&nonce=1&proof=2",
    ])
    func refusesIncompleteRequests(_ target: String) {
        #expect(throws: PeerProtocolError.self) { try JoinRequest(target: target) }
    }
}
