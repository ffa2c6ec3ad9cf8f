import CastyMedia
import CastyMediaTestSupport
import Testing

@Suite struct OggPageTests {
    @Test func crcIsTheOggVariantOfCRC32() {
        // Polynomial 0x04C11DB7, initial value 0, no reflection, no final XOR: the check value of
        // "123456789" is the complement of CRC-32/CKSUM's 0x765E7680.
        #expect(OggPage.crc(updating: 0, with: Array("123456789".utf8)) == 0x89A1_897F)
        #expect(OggPage.crc(updating: 0, with: [UInt8]()) == 0)
        // The page CRC reads the checksum field as zeros, whatever it holds.
        let page = OggTestStreams.page(flags: .beginOfStream, serial: 7, sequence: 0, lacing: [3], body: [1, 2, 3])
        var zeroed = page
        zeroed.replaceSubrange(22..<26, with: [0, 0, 0, 0])
        #expect(OggPage.crc(page) == OggPage.crc(updating: 0, with: zeroed))
    }

    @Test func parsesAPageAndItsFields() throws {
        let body = [UInt8](repeating: 0x41, count: 255 + 10) + [UInt8](repeating: 0x42, count: 255)
        let bytes = [0xAA, 0xBB] + OggTestStreams.page(
            flags: [.continued, .endOfStream], granule: 0x0102_0304_0506, serial: 0xDEAD_BEEF, sequence: 42,
            lacing: [255, 10, 255], body: body
        ) + [0xCC]
        guard case .page(let page, let length) = OggPage.parse(bytes, at: 2) else {
            Issue.record("not parsed: \(OggPage.parse(bytes, at: 2))")
            return
        }
        #expect(length == 27 + 3 + body.count)
        #expect(page.length == length)
        #expect(page.version == 0)
        #expect(page.headerType == [.continued, .endOfStream])
        #expect(page.isContinued && page.isEndOfStream && !page.isBeginOfStream)
        #expect(page.granulePosition == 0x0102_0304_0506)
        #expect(page.serial == 0xDEAD_BEEF)
        #expect(page.sequence == 42)
        #expect(page.segmentTable == [255, 10, 255])
        #expect(page.checksum == OggPage.crc(bytes[2..<(2 + length)]))
        // 255 + 10: one packet that ends here; 255: one that goes on on the next page.
        #expect(
            page.packets == [
                OggPage.Packet(offset: 30, length: 265, isComplete: true),
                OggPage.Packet(offset: 295, length: 255, isComplete: false),
            ]
        )
    }

    @Test func packetsOfAPageWithZeroLengthPacketsAndNoSegments() {
        let page = OggPage(headerType: [], granulePosition: -1, serial: 1, sequence: 1, checksum: 0, segmentTable: [0, 5, 255, 0])
        #expect(
            page.packets == [
                OggPage.Packet(offset: 31, length: 0, isComplete: true),
                OggPage.Packet(offset: 31, length: 5, isComplete: true),
                OggPage.Packet(offset: 36, length: 255, isComplete: true),
            ]
        )
        #expect(OggPage(headerType: [], granulePosition: 0, serial: 1, sequence: 1, checksum: 0, segmentTable: []).packets == [])
    }

    @Test func asksForMoreUntilTheWholePageIsThere() {
        let page = OggTestStreams.page(serial: 1, sequence: 3, lacing: [200, 0], body: [UInt8](repeating: 9, count: 200))
        for n in 0..<page.count {
            #expect(OggPage.parse(page.prefix(n), at: 0) == .needMore, "prefix of \(n) bytes")
        }
        if case .page(_, let length) = OggPage.parse(page, at: 0) {
            #expect(length == page.count)
        } else {
            Issue.record("the whole page did not parse")
        }
        #expect(OggPage.maxLength == 65_307)
    }

    @Test func rejectsWhatIsNotAPage() {
        let page = OggTestStreams.page(serial: 1, sequence: 3, lacing: [4], body: [1, 2, 3, 4])
        #expect(OggPage.parse(Array("OggX".utf8), at: 0) == .invalid(.noCapturePattern))
        #expect(OggPage.parse([0x4F, 0x67, 0x00], at: 0) == .invalid(.noCapturePattern))
        var version = page
        version[4] = 1
        #expect(OggPage.parse(version, at: 0) == .invalid(.unsupportedVersion(1)))
        var flags = page
        flags[5] = 0x08
        #expect(OggPage.parse(flags, at: 0) == .invalid(.reservedFlags(0x08)))
        var damaged = page
        damaged[page.count - 1] ^= 0x01
        guard case .invalid(.checksumMismatch(let stored, let computed)) = OggPage.parse(damaged, at: 0) else {
            Issue.record("a damaged page parsed")
            return
        }
        #expect(stored != computed)
        #expect("\(OggPage.Invalid.checksumMismatch(stored: stored, computed: computed))".contains("CRC mismatch"))
    }
}
