import CastyFuzzDrivers
import CastyICY
import NIOCore
import Testing

@Suite struct ICYMetadataTests {
    @Test func parsesTitleAndURLKeepingOtherFields() {
        let m = ICYMetadata(parsing: "StreamTitle='Artist - Song';StreamUrl='http://x.example/a.jpg';adw_ad='true';")
        #expect(m.streamTitle == "Artist - Song")
        #expect(m.streamURL == "http://x.example/a.jpg")
        #expect(m["adw_ad"] == "true")
        #expect(m.fields.map(\.key) == ["StreamTitle", "StreamUrl", "adw_ad"])
    }

    @Test(arguments: [
        ("StreamTitle='Guns N' Roses - Don't Cry';", "Guns N' Roses - Don't Cry"),
        ("StreamTitle='Rock';n'roll';", "Rock';n'roll"),
        ("StreamTitle='It\\'s';", "It's"),
        ("StreamTitle='';", ""),
        ("StreamTitle='''';", "''"),
        ("StreamTitle='unterminated", "unterminated"),
        ("StreamTitle='semi';  ", "semi"),
    ])
    func handlesQuotesAsRealServersSendThem(_ text: String, _ title: String) {
        #expect(ICYMetadata(parsing: text).streamTitle == title)
    }

    @Test func titleWithQuoteBeforeSemicolonIsEscapedAndReadBack() {
        let m = ICYMetadata(fields: [.init(key: "StreamTitle", value: "a';StreamUrl='b"), .init(key: "StreamUrl", value: "c\\")])
        #expect(m.text == "StreamTitle='a\\';StreamUrl='b';StreamUrl='c\\\\';")
        #expect(ICYMetadata(parsing: m.text) == m)
    }

    @Test func ordinaryQuotesAreWrittenAsTheyAre() {
        #expect(ICYMetadata(title: "Don't Stop").text == "StreamTitle='Don't Stop';")
    }

    @Test func keepsTextThatIsNotAFieldList() {
        let m = ICYMetadata(parsing: "just some text")
        #expect(m.fields == [.init(key: "", value: "just some text")])
        #expect(m.text == "just some text")
    }

    @Test func roundTripsRandomFields() {
        var rng = SplitMix64(seed: 42)
        let alphabet: [Character] = ["a", "Z", " ", "'", ";", "\\", "=", "-", "é", "S", "t"]
        for _ in 0..<5000 {
            let fields = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                ICYMetadata.Field(
                    key: ["StreamTitle", "StreamUrl", "x_y"].randomElement(using: &rng)!,
                    value: String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
                )
            }
            let m = ICYMetadata(fields: fields)
            #expect(ICYMetadata(parsing: m.text) == m, "text: \(m.text)")
        }
    }

    @Test func textLongerThanOneBlockIsAnErrorNotACut() throws {
        var buffer = ByteBuffer()
        let error = icyError { try buffer.writeICYMetadataBlock(String(repeating: "x", count: 255 * 16 + 1)) }
        #expect(error?.kind == .metadataTooLong)
        #expect(buffer.readableBytes == 0, "nothing may be written on error")
        try buffer.writeICYMetadataBlock(String(repeating: "x", count: 255 * 16))
        #expect(buffer.readableBytes == 1 + 255 * 16)
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == 255)
    }

    @Test(arguments: [(0, 1), (1, 17), (15, 17), (16, 17), (17, 33)])
    func padsToAMultipleOfSixteen(_ length: Int, _ expected: Int) throws {
        var buffer = ByteBuffer()
        try buffer.writeICYMetadataBlock(String(repeating: "y", count: length))
        #expect(buffer.readableBytes == expected)
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == UInt8((expected - 1) / 16))
        #expect(buffer.readableBytesView.dropFirst(1 + length).allSatisfy { $0 == 0 })
    }
}
