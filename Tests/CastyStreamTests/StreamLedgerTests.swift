import CastyICY
import CastyMediaTestSupport
import CastyStream
import NIOCore
import NIOHTTP1
import Testing

@Suite struct StreamLedgerTests {
    /// A segment of `bytes` audio bytes (no frame sync, so no MP3 listener start), with `title`'s
    /// metadata block if given.
    func segment(_ fill: UInt8 = 1, bytes: Int = 1000, title: String? = nil) -> ICYSegment {
        ICYSegment(audio: ByteBuffer(repeating: fill, count: bytes), metadata: title.map { "StreamTitle='\($0)';" } ?? "")
    }

    func context(_ headers: [(String, String)]) -> StreamContext {
        StreamContext(headers: HTTPHeaders(headers))
    }

    @Test func theIngestNumbersEverySegmentInOrder() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 30)
        let seqs = (0..<5).map { _ in ledger.publish(self.segment()).0.seq }
        #expect(seqs == [0, 1, 2, 3, 4])
        #expect(ledger.nextSeq == 5)
        #expect(ledger.entries(from: 3)?.map(\.seq) == [3, 4])
        #expect(ledger.ring.count == 5)
    }

    @Test func aMirrorTakesItsParentsNumbersRefusesRepeatsAndNotesALoss() throws {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: nil, ringSeconds: 30)
        let first = ledger.receive(seq: 40, segment: self.segment())
        #expect(first?.0.seq == 40, "a mirror starts where its parent starts it")
        let next = ledger.receive(seq: 41, segment: self.segment())
        #expect(next != nil && next?.1.lost == nil)
        let repeated = ledger.receive(seq: 41, segment: self.segment())
        #expect(repeated == nil, "a repeat is refused")
        let old = ledger.receive(seq: 12, segment: self.segment())
        #expect(old == nil, "an old number is refused")
        let afterLoss = ledger.receive(seq: 45, segment: self.segment())
        let (entry, notes) = try #require(afterLoss)
        #expect(entry.seq == 45)
        #expect(notes.lost == 42..<45)
        #expect(ledger.ring.firstSeq == 45, "the ring holds no gap: it restarts at the segment after the loss")
        #expect(ledger.nextSeq == 46)
    }

    @Test func aNewIdentityEmptiesTheRingAndTakesTheNewNumbering() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: nil, ringSeconds: 30)
        _ = ledger.receive(seq: 7, segment: self.segment())
        let same = ledger.reset(identity: StreamIdentity(value: "a"), nextSeq: 0)
        #expect(!same, "the same identity changes nothing")
        #expect(ledger.nextSeq == 8)
        let changed = ledger.reset(identity: StreamIdentity(value: "b"), nextSeq: 3)
        #expect(changed)
        #expect(ledger.identity == StreamIdentity(value: "b"))
        #expect(ledger.ring.count == 0)
        #expect(ledger.nextSeq == 3)
    }

    @Test func theRingHoldsRingSecondsOfTheAnnouncedBitrateAndKeepsWhatItHadWhenResized() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 2)
        for _ in 0..<3 { _ = ledger.publish(self.segment(bytes: 4000)) }
        let notes = ledger.setContext(self.context([("icy-br", "64"), ("Content-Type", "audio/mpeg")]))
        #expect(notes.contextChanged?.bitrate == 64, "children hear of a new context")
        #expect(notes.formatChanged == nil)
        #expect(ledger.ring.capacityBytes == 64 * 1000 / 8 * 2)
        #expect(ledger.ring.count == 3, "resizing keeps what fits")
        for _ in 0..<10 { _ = ledger.publish(self.segment(bytes: 4000)) }
        #expect(ledger.ring.audioBytes <= 16_000)
        let same = ledger.setContext(self.context([("icy-br", "64"), ("Content-Type", "audio/mpeg")]))
        #expect(same.contextChanged == nil, "the same context is no news")
    }

    @Test func aContentTypeOfAnotherFormatIsAFormatChange() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 30)
        #expect(ledger.format == .mp3)
        let notes = ledger.setContext(self.context([("Content-Type", "application/ogg")]))
        #expect(notes.formatChanged == StreamLedger.FormatChange(from: .mp3, to: .ogg))
        #expect(ledger.format == .ogg)
        #expect(ledger.join(burstBytes: 1000).format == .ogg)
    }

    @Test func theRadiosFirstBytesCorrectAWrongLabelAndAReconnectWithTheSameLabelKeepsTheCorrection() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 30)
        let label = self.context([("Content-Type", "audio/mpeg")])
        _ = ledger.setContext(label, checkBytes: true)
        var writer = OggTestStreams.Writer(serial: 7)
        let pages = writer.pages(OggTestStreams.opusHeaders([("TITLE", "x")]), first: .beginOfStream)
            + writer.pages(OggTestStreams.audioPackets(3))
        let (_, notes) = ledger.publish(ICYSegment(audio: ByteBuffer(bytes: pages.flatMap { $0 })))
        #expect(notes.formatMismatch != nil, "the log says the label is wrong")
        #expect(notes.formatChanged?.to == .ogg)
        #expect(ledger.format == .ogg)
        #expect(ledger.context.contentType != "audio/mpeg", "players are told the format the bytes are in")
        // The radio reconnects with the same wrong label: the correction stands, nothing changes.
        let again = ledger.setContext(label, checkBytes: true)
        #expect(again.contextChanged == nil && again.formatChanged == nil)
        #expect(ledger.format == .ogg)
    }

    @Test func aSegmentKeepsTheTitleBeforeItsMetadataBlockExceptBeforeTheFirstTitle() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 30)
        let first = ledger.publish(self.segment(title: "One")).0
        #expect(first.title.title == "One", "audio before the first title is named by it")
        let plain = ledger.publish(self.segment()).0
        #expect(plain.title.title == "One")
        let second = ledger.publish(self.segment(title: "Two")).0
        #expect(second.title.title == "One", "a block names what plays after it")
        #expect(ledger.currentTitle == "Two")
        let tooLong = String(repeating: "x", count: 300 * 16)
        let rejected = ledger.publish(self.segment(title: tooLong)).1
        #expect(rejected.titleError != nil)
        #expect(ledger.currentTitle == "Two", "a title too long for a block is ignored")
    }

    @Test func aJoiningPeerGetsTheRingFromWhereItAsksOrFromItsOldestSegment() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 10, ringSeconds: 1)
        for n in 0..<6 { _ = ledger.publish(self.segment(bytes: 4000, title: n == 2 ? "Two" : nil)) }
        // 1 s of 128 kbps is 16,000 bytes: four segments of 4,000 (12 to 15).
        #expect(ledger.ring.firstSeq == 12)
        let within = ledger.peerJoin(from: 13)
        #expect(within.entries.map(\.seq) == [13, 14, 15])
        #expect(within.nextSeq == 13)
        #expect(String(buffer: within.metadata) == "StreamTitle='Two';", "the title in force at segment 13")
        let gone = ledger.peerJoin(from: 3)
        #expect(gone.entries.first?.seq == 12 && gone.nextSeq == 12, "a number gone from the ring starts at its oldest")
        let ahead = ledger.peerJoin(from: 99)
        #expect(ahead.entries.isEmpty && ahead.nextSeq == 99, "a number not yet here is waited for")
        let newest = ledger.peerJoin(from: nil)
        #expect(newest.entries.isEmpty && newest.nextSeq == 16 && newest.identity == StreamIdentity(value: "a"))
    }

    @Test func aJoiningPlayerGetsTheNewestAudioOfTheBurstsSize() {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: 0, ringSeconds: 30)
        for _ in 0..<10 { _ = ledger.publish(self.segment(bytes: 1000)) }
        let join = ledger.join(burstBytes: 3000)
        #expect(join.burst.map(\.seq) == [7, 8, 9])
        #expect(join.nextSeq == 10)
        #expect(join.context == ledger.context)
    }

    @Test func aMirrorResumesTheTitleAndTheCodecHeadersItsParentSent() throws {
        var ledger = StreamLedger(identity: StreamIdentity(value: "a"), nextSeq: nil, ringSeconds: 30)
        try ledger.resume(metadata: ByteBuffer(string: "StreamTitle='Now';"))
        let first = ledger.receive(seq: 0, segment: self.segment())
        #expect(first?.0.title.title == "Now")
        let ignored = ledger.resume(codecHeaders: ByteBuffer(string: "not ogg"))
        #expect(ignored == nil, "an MP3 stream ignores codec headers")
        _ = ledger.setContext(self.context([("Content-Type", "audio/ogg")]))
        let reported = ledger.resume(codecHeaders: ByteBuffer(string: "not ogg"))
        #expect(reported != nil, "pages that are not a header set are reported")
        var writer = OggTestStreams.Writer(serial: 3)
        let headers = writer.pages(OggTestStreams.opusHeaders([("TITLE", "Resumed")]), first: .beginOfStream)
        let resumed = ledger.resume(codecHeaders: ByteBuffer(bytes: headers.flatMap { $0 }))
        #expect(resumed == nil)
        #expect(ledger.currentTitle == "Resumed")
        #expect(ledger.peerJoin(from: nil).codecHeaders?.readableBytes == headers.joined().count)
    }
}
