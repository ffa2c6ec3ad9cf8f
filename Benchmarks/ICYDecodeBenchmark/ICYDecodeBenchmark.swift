import CastyICY
import NIOCore

/// Decode throughput of the ICY segment decoder on a long stream, fed in network-sized chunks,
/// next to the cost of merely copying the same chunks into an accumulating buffer (the least any
/// decoder that keeps its input must spend).
///
/// Usage: ICYDecodeBenchmark [megabytes] [rounds]
@main
struct ICYDecodeBenchmark {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let megabytes = arguments.first ?? 512
        let rounds = arguments.dropFirst().first ?? 5
        let metaint = 16_000

        // A stream of real shape: audio, mostly empty metadata blocks, a title every 10th segment.
        var stream = ByteBuffer()
        stream.reserveCapacity(megabytes << 20 + 65536)
        var segments = 0
        var seed: UInt64 = 1
        let audio = ByteBuffer(bytes: (0..<metaint).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: seed >> 33)
        })
        while stream.readableBytes < megabytes << 20 {
            stream.writeImmutableBuffer(audio)
            try stream.writeICYMetadataBlock(segments % 10 == 0 ? "StreamTitle='Artist \(segments) - Song';" : "")
            segments += 1
        }
        let total = stream.readableBytes

        print("ICY segment decoder, \(total >> 20) MiB stream, icy-metaint \(metaint), \(segments) segments, best of \(rounds)")
        print("chunk      decode GB/s   copy-only GB/s   decode/copy")
        for chunkSize in [1460, 16 * 1024] {
            var chunks: [ByteBuffer] = []
            var offset = 0
            while offset < total {
                let length = min(chunkSize, total - offset)
                chunks.append(stream.getSlice(at: stream.readerIndex + offset, length: length)!)
                offset += length
            }
            var bestDecode = Double.infinity
            var bestCopy = Double.infinity
            for _ in 0..<rounds {
                bestDecode = min(bestDecode, try Self.timeDecode(chunks, metaint: metaint, expectedSegments: segments))
                bestCopy = min(bestCopy, Self.timeCopy(chunks))
            }
            let decodeRate = Double(total) / bestDecode / 1e9
            let copyRate = Double(total) / bestCopy / 1e9
            let columns = [String(chunkSize), format(decodeRate), format(copyRate), format(decodeRate / copyRate)]
            print(zip(columns, [9, 12, 15, 0]).map { pad($0.0, $0.1) }.joined(separator: "  "))
        }
    }

    static func timeDecode(_ chunks: [ByteBuffer], metaint: Int, expectedSegments: Int) throws -> Double {
        let processor = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: .metadata(interval: metaint)))
        var decoded = 0
        var audioBytes = 0
        let start = ContinuousClock.now
        for chunk in chunks {
            try processor.process(buffer: chunk) { segment in
                decoded += 1
                audioBytes &+= segment.audio.readableBytes
            }
        }
        let elapsed = ContinuousClock.now - start
        precondition(decoded == expectedSegments && audioBytes == expectedSegments * metaint, "decoded \(decoded) of \(expectedSegments)")
        return seconds(elapsed)
    }

    /// The peer: append every chunk to one buffer, dropping what was consumed, as any
    /// accumulating decoder must.
    static func timeCopy(_ chunks: [ByteBuffer]) -> Double {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 * 1024)
        var sum = 0
        let start = ContinuousClock.now
        for var chunk in chunks {
            buffer.writeBuffer(&chunk)
            if buffer.readableBytes >= 16_000 {
                sum &+= Int(buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!)
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                buffer.discardReadBytes()
            }
        }
        let elapsed = ContinuousClock.now - start
        precondition(sum >= 0)
        return seconds(elapsed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(scaled)
    }
}
