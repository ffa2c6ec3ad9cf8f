import CastyFuzzDrivers
import CastyICY
import NIOCore
import NIOHTTP1
import PropertyBased
import Testing

/// Properties over random inputs: encode → split anywhere → decode gives back exactly what was
/// encoded; and no input at all can crash, hang or swell a decoder.
@Suite struct ICYPropertyTests {
    /// Builds a random stream from a seed: a reply head with `metaint`, then segments with random
    /// audio and a mix of empty, short, quoted and full-size metadata.
    static func randomStream(metaint: Int, seed: UInt64) throws -> (head: ICYResponseHead, segments: [ICYSegment], bytes: [UInt8]) {
        var rng = SplitMix64(seed: seed)
        let head = ICYResponseHead(
            status: [ICYStatusLine.icyOK, .http10OK].randomElement(using: &rng)!,
            headers: HTTPHeaders([("icy-name", "Random"), ("icy-metaint", String(metaint)), ("content-type", "audio/mpeg")])
        )
        var segments: [ICYSegment] = []
        for _ in 0..<Int.random(in: 1...12, using: &rng) {
            let audio = ByteBuffer(bytes: (0..<metaint).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let metadata: String
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: metadata = ICYMetadata(title: "Song \(rng.next() % 1000) - Don't Stop").text
            case 1: metadata = String(repeating: "z", count: 255 * 16)
            case 2: metadata = String(repeating: "q", count: Int.random(in: 1...300, using: &rng))
            default: metadata = ""
            }
            segments.append(ICYSegment(audio: audio, metadata: metadata))
        }
        var wire = ByteBuffer()
        wire.writeICYResponseHead(head)
        for segment in segments {
            wire.writeImmutableBuffer(try ICYEncoder().encodeSegment(segment))
        }
        return (head, segments, wire.bytes)
    }

    @Test func encodeThenDecodeAtRandomSplitsGivesBackTheSegments() async throws {
        await propertyCheck(count: 300, input: Gen.int(in: 1...5000), Gen.uint64(), Gen.int(in: 0...40)) { metaint, seed, cutCount in
            let stream = try Self.randomStream(metaint: metaint, seed: seed)
            var rng = SplitMix64(seed: seed ^ 0xC0FFEE)
            let cuts = (0..<cutCount).map { _ in Int.random(in: 0...stream.bytes.count, using: &rng) }
            let parts = try decodeAll(ICYResponseDecoder(), split(stream.bytes, at: cuts))
            #expect(parts.first == .head(stream.head, framing: .metadata(interval: metaint)))
            #expect(Array(parts.dropFirst()) == stream.segments.map(ICYResponsePart.segment))
        }
    }

    @Test func smallStreamsDecodeIdenticallyWhenFedByteByByte() throws {
        for seed in UInt64(0)..<40 {
            let stream = try Self.randomStream(metaint: Int(seed % 7) + 1, seed: seed)
            let whole = try decodeAll(ICYResponseDecoder(), [ByteBuffer(bytes: stream.bytes)])
            #expect(try decodeAll(ICYResponseDecoder(), bytewise(stream.bytes)) == whole)
            #expect(whole.count == stream.segments.count + 1)
        }
    }

    @Test func randomBytesNeverCrashHangOrSwellTheDecoders() async throws {
        let limits = ICYDecoderLimits(maxHeaderLineLength: 512, maxHeadLength: 2048, maxMetaint: 4096)
        await propertyCheck(count: 400, input: Gen.uint64(), Gen.int(in: 0...20_000)) { seed, length in
            var rng = SplitMix64(seed: seed)
            // Half the inputs start like a real reply so the body decoder is reached too.
            var bytes: [UInt8] = seed % 2 == 0 ? Array("ICY 200 OK\r\nicy-metaint: \(seed % 300 + 1)\r\n\r\n".utf8) : []
            bytes += (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let chunks = split(bytes, at: (0..<20).map { _ in Int.random(in: 0...bytes.count, using: &rng) })

            let response = NIOSingleStepByteToMessageProcessor(ICYResponseDecoder(limits: limits, audioOnlySegmentSize: 1000))
            let request = NIOSingleStepByteToMessageProcessor(ICYRequestDecoder(limits: limits))
            var responseFailed = false
            var requestFailed = false
            for chunk in chunks {
                if !responseFailed {
                    do { try response.process(buffer: chunk) { _ in } } catch is ICYError { responseFailed = true }
                    // Bounded: at most one segment (interval + largest block) plus the chunk in flight.
                    #expect(response.unprocessedBytes <= 4096 + 1 + 255 * 16 + chunk.readableBytes)
                }
                if !requestFailed {
                    do { try request.process(buffer: chunk) { _ in } } catch is ICYError { requestFailed = true }
                    #expect(request.unprocessedBytes <= 2048 + chunk.readableBytes)
                }
            }
            if !responseFailed {
                do { try response.finishProcessing(seenEOF: true) { _ in } } catch is ICYError {}
            }
        }
    }
}
