import CastyHandover
import Foundation
import Testing

/// The hand-over dialogue's messages: encoded and decoded back whatever the split, a state of
/// another layout named as such, and malformed bytes refused.
@Suite struct HandoverMessageTests {
    static let state = HandoverState(
        binaryVersion: "casty 0.1.0 (build abc)",
        node: "m1",
        stream: .init(
            identity: "0123456789abcdef", nextSeq: 43, context: [.init(name: "icy-name", value: "Test"), .init(name: "content-type", value: "audio/mpeg")],
            metadata: Data("StreamTitle='A - B';".utf8), codecHeaders: nil,
            segments: [.init(seq: 41, audio: Data(repeating: 7, count: 1000), metadata: Data()), .init(seq: 42, audio: Data([1, 2, 3]), metadata: Data("StreamTitle='C';".utf8))]
        ),
        place: .init(parent: "root", depth: 1, path: ["root"]),
        tree: ["m1": "root", "m2": "m1"],
        connections: [
            .init(unwritten: Data([9, 9]), player: .init(nextSeq: 43, format: "mp3", metaint: 16_000, untilMetadata: 123, sentTitle: Data("StreamTitle='A - B';".utf8), awaitingStart: false)),
            .init(unwritten: Data(), peer: .init(name: "m2", observer: false, version: 3, nextSeq: 43, depth: 2, path: ["root", "m1"], takesTerm: true)),
        ]
    )

    static let messages: [HandoverMessage] = [
        .hello(formatVersions: [1], binaryVersion: "casty 0.1.0 (build def)", pid: 4242), .state(Self.state), .ready, .go, .refused("no room"),
    ]

    @Test func everyMessageDecodesBackWhateverTheSplit() throws {
        let wire = Self.messages.flatMap { $0.encoded() }
        for chunk in [1, 2, 3, 7, 64, 1000, wire.count] {
            var decoder = HandoverMessageDecoder()
            var decoded: [HandoverMessage] = []
            var offset = 0
            while offset < wire.count {
                decoder.feed(wire[offset..<min(offset + chunk, wire.count)])
                offset += chunk
                while let message = try decoder.next() { decoded.append(message) }
            }
            #expect(decoded == Self.messages, "split every \(chunk) bytes")
            #expect(decoder.pendingBytes == 0)
        }
    }

    @Test func aPartialMessageAsksForMore() throws {
        let wire = HandoverMessage.ready.encoded()
        var decoder = HandoverMessageDecoder()
        decoder.feed(wire.dropLast())
        #expect(try decoder.next() == nil)
        decoder.feed(wire.suffix(1))
        #expect(try decoder.next() == .ready)
    }

    @Test func aStateOfAnotherLayoutIsNamedAsSuch() throws {
        var newer = Self.state
        newer.formatVersion = 2
        var decoder = HandoverMessageDecoder()
        decoder.feed(HandoverMessage.state(newer).encoded())
        #expect(throws: HandoverMessageDecoder.Failure.unreadableState(formatVersion: 2)) { try decoder.next() }
        #expect("\(HandoverMessageDecoder.Failure.unreadableState(formatVersion: 2))".contains("layout version 2"))
    }

    @Test func malformedAndOversizedMessagesAreRefused() throws {
        var decoder = HandoverMessageDecoder()
        let body = Array(#"{"ready":{},"go":{}}"#.utf8)
        decoder.feed([0, 0, 0, UInt8(body.count)] + body)
        #expect(throws: HandoverMessageDecoder.Failure.self) { try decoder.next() }

        var garbage = HandoverMessageDecoder()
        garbage.feed([0, 0, 0, 3] + Array("abc".utf8))
        #expect(throws: HandoverMessageDecoder.Failure.self) { try garbage.next() }

        var huge = HandoverMessageDecoder()
        huge.feed([0x7f, 0xff, 0xff, 0xff])
        #expect(throws: HandoverMessageDecoder.Failure.tooLong(0x7fff_ffff)) { try huge.next() }
    }

    @Test func theLayoutVersionIsTheFirstThingAReaderCanCheck() throws {
        let json = try JSONEncoder().encode(Self.state)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["formatVersion"] as? Int == HandoverState.currentFormatVersion)
        #expect(try JSONDecoder().decode(HandoverState.self, from: json) == Self.state)
    }
}
