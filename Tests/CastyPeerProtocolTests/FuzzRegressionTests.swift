import CastyICY
import CastyPeerProtocol
import Foundation
import NIOCore
import Testing

/// Replays every input the fuzzers kept (Fuzz/Corpus/<Target>/) and every crash they found
/// (Fuzz/Crashes/<Target>/) through the same drivers the fuzz targets run (Fuzz/README.md,
/// scripts/fuzz.sh): no input may crash a decoder or parser or break one of the drivers' invariants.
@Suite struct FuzzRegressionTests {
    /// `<repo>/Fuzz`, found from this file's own path.
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// Crash files of bugs not fixed yet: skipped here, each replayed by its own disabled test below.
    static let knownBugs: Set<String> = []

    /// The files of `Fuzz/<folder>/<target>/`, sorted by name.
    static func inputs(_ folder: String, _ target: String) -> [(name: String, bytes: [UInt8])] {
        let directory = fuzzFolder.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().filter { !$0.hasSuffix(".log") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else { return nil }
            return (name, Array(data))
        }
    }

    nonisolated(unsafe) static let drivers: [String: ([UInt8], FuzzCheck) -> Void] = [
        "FuzzPeerFrames": fuzzPeerFrames,
        "FuzzJoinRequest": fuzzPeerTargets,
    ]

    static func replay(_ target: String, _ name: String, _ bytes: [UInt8]) {
        Self.drivers[target]!(bytes, FuzzCheck { message in
            Issue.record(Comment(rawValue: "\(target)/\(name) (\(fuzzHex(bytes))): \(message)"))
        })
    }

    @Test(arguments: ["FuzzPeerFrames", "FuzzJoinRequest"])
    func corpusAndCrashesReplayCleanly(_ target: String) {
        let corpus = Self.inputs("Corpus", target)
        // The hand-made seeds and what the fuzzers added; fewer means the corpus went missing.
        #expect(corpus.filter { $0.name.hasPrefix("seed-") }.count >= 4, "seed inputs missing from Fuzz/Corpus/\(target)")
        #expect(corpus.count >= 20, "only \(corpus.count) inputs in Fuzz/Corpus/\(target)")
        for input in corpus {
            Self.replay(target, input.name, input.bytes)
        }
        for input in Self.inputs("Crashes", target) where !Self.knownBugs.contains(input.name) {
            Self.replay(target, input.name, input.bytes)
        }
    }
}

// The drivers below are copied verbatim from Fuzz/Sources/FuzzDrivers/ (scripts/fuzz.sh checks
// that they match; `scripts/fuzz.sh --sync-tests` copies them again).

// BEGIN FUZZ DRIVER: support
/// Reports a broken invariant: a fuzz target traps (libFuzzer saves the input as a crash), a
/// regression test records an issue.
public struct FuzzCheck {
    public let fail: (String) -> Void

    public init(fail: @escaping (String) -> Void) {
        self.fail = fail
    }

    public func callAsFunction(_ ok: Bool, _ message: @autoclosure () -> String) {
        if !ok { self.fail(message()) }
    }
}

/// The fuzzer's bytes, from which a driver first takes a few configuration bytes.
public struct FuzzInput {
    public var bytes: ArraySlice<UInt8>

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    /// The next byte, or 0 once the input is used up.
    public mutating func byte() -> UInt8 {
        self.bytes.popFirst() ?? 0
    }
}

/// Cuts `bytes` into the reads a socket might deliver, chosen by `seed`: all at once (`seed % 4 == 0`),
/// byte by byte (1), chunks of `1 + seed / 4` bytes (2), or sizes from 1 to 4096 drawn from a
/// generator seeded with `seed` (3).
public func fuzzChunks(_ bytes: ArraySlice<UInt8>, seed: UInt8) -> [ByteBuffer] {
    var chunks: [ByteBuffer] = []
    var state = UInt64(seed)
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let size: Int
        switch seed & 3 {
        case 0: size = bytes.count
        case 1: size = 1
        case 2: size = 1 + Int(seed >> 2)
        default:
            // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let bits = Int(z >> 59) % 13
            size = 1 + Int(z & ((1 << UInt64(bits)) - 1))
        }
        let end = min(offset + size, bytes.endIndex)
        chunks.append(ByteBuffer(bytes: bytes[offset..<end]))
        offset = end
    }
    return chunks
}

/// `count` bytes of `byte`, in reads of 64 KiB: a peer that keeps sending the same byte.
public func fuzzPadding(_ byte: UInt8, count: Int) -> [ByteBuffer] {
    let block = ByteBuffer(repeating: byte, count: 64 * 1024)
    var chunks: [ByteBuffer] = []
    var left = count
    while left > 0 {
        chunks.append(block.getSlice(at: block.readerIndex, length: min(left, block.readableBytes))!)
        left -= block.readableBytes
    }
    return chunks
}

/// What one pass of a decoder over a stream gave: the messages, then the error that stopped it, if any.
public struct FuzzRun<Output> {
    public var outputs: [Output] = []
    public var error: (any Error)?
    public var chunks = 0
}

/// Feeds `chunks` to `decoder` through a `NIOSingleStepByteToMessageProcessor`, then ends the
/// stream (`finishProcessing(seenEOF: true)`). Errors end the pass and are returned, not raised.
///
/// Invariants: after every read, the bytes the processor keeps are at most `bound(outputs so far)`;
/// a stream that ends without an error leaves no byte undecoded.
public func fuzzProcess<D: NIOSingleStepByteToMessageDecoder>(
    _ decoder: D,
    _ chunks: [ByteBuffer],
    _ check: FuzzCheck,
    bound: ([D.InboundOut]) -> Int
) -> FuzzRun<D.InboundOut> {
    let processor = NIOSingleStepByteToMessageProcessor(decoder)
    var run = FuzzRun<D.InboundOut>()
    do {
        for chunk in chunks {
            try processor.process(buffer: chunk) { run.outputs.append($0) }
            run.chunks += 1
            let limit = bound(run.outputs)
            check(
                processor.unprocessedBytes <= limit,
                "\(D.self) keeps \(processor.unprocessedBytes) bytes after read \(run.chunks), over its bound of \(limit)"
            )
        }
        try processor.finishProcessing(seenEOF: true) { run.outputs.append($0) }
        check(processor.unprocessedBytes == 0, "\(D.self) ended cleanly with \(processor.unprocessedBytes) bytes undecoded")
    } catch {
        run.error = error
    }
    return run
}

/// The same chunks fed straight to the decoder as `ByteToMessageHandler` may feed them when a read
/// and the end of the stream arrive together (a re-entrant read, then `channelInactive`): `decode`
/// until it asks for more after every chunk but the last, whose bytes go to `decodeLast` without
/// `decode` having seen them. Same invariants as `fuzzProcess`.
public func fuzzLeftovers<D: NIOSingleStepByteToMessageDecoder>(
    _ decoder: D,
    _ chunks: [ByteBuffer],
    _ check: FuzzCheck,
    bound: ([D.InboundOut]) -> Int
) -> FuzzRun<D.InboundOut> {
    var decoder = decoder
    var buffer = ByteBuffer()
    var run = FuzzRun<D.InboundOut>()
    do {
        for var chunk in chunks.dropLast() {
            buffer.writeBuffer(&chunk)
            while let message = try decoder.decode(buffer: &buffer) { run.outputs.append(message) }
            run.chunks += 1
            let limit = bound(run.outputs)
            check(buffer.readableBytes <= limit, "\(D.self) keeps \(buffer.readableBytes) bytes after read \(run.chunks), over its bound of \(limit)")
        }
        if var last = chunks.last { buffer.writeBuffer(&last) }
        while let message = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { run.outputs.append(message) }
        check(buffer.readableBytes == 0, "\(D.self) ended cleanly with \(buffer.readableBytes) bytes undecoded")
    } catch {
        run.error = error
    }
    return run
}

/// A peer that keeps sending the same byte after the stream: when `run` (the pass over `chunks`)
/// read every chunk without an error, the same chunks again and then `pad` repeated until the
/// processor would hold more than `bound` bytes unless it decodes them or fails. Checks the bound
/// after every read.
public func fuzzPadded<D: NIOSingleStepByteToMessageDecoder>(
    _ decoder: D,
    _ chunks: [ByteBuffer],
    after run: FuzzRun<D.InboundOut>,
    pad: UInt8,
    _ check: FuzzCheck,
    bound: ([D.InboundOut]) -> Int
) {
    guard pad != 0, run.chunks == chunks.count else { return }
    _ = fuzzProcess(decoder, chunks + fuzzPadding(pad, count: bound(run.outputs) + 2), check, bound: bound)
}

/// An error as compared across two passes over the same bytes. Which of the two head limits trips
/// first may depend on where the reads end, so the two count as one.
public func fuzzErrorKey(_ error: (any Error)?) -> String {
    guard let error else { return "no error" }
    if let icy = error as? ICYError {
        switch icy.kind {
        case .headerLineTooLong, .headTooLong: return "ICY head limit at \(icy.offset)"
        default: return "ICY \(icy.kind) at \(icy.offset): \(icy.detail)"
        }
    }
    return "\(type(of: error)): \(error)"
}

/// The same bytes decode to the same messages and the same error however they are split.
public func fuzzSameResult<Output: Equatable>(_ a: FuzzRun<Output>, _ b: FuzzRun<Output>, _ check: FuzzCheck) {
    check(
        a.outputs == b.outputs,
        "the split changed the messages: \(a.outputs.count) against \(b.outputs.count) whole (\(fuzzErrorKey(a.error)) / \(fuzzErrorKey(b.error)))"
    )
    check(
        fuzzErrorKey(a.error) == fuzzErrorKey(b.error),
        "the split changed the error: '\(fuzzErrorKey(a.error))' against '\(fuzzErrorKey(b.error))' whole"
    )
}

/// Bytes as hex, for messages.
public func fuzzHex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.prefix(256).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + (bytes.count > 256 ? "…" : "")
}
// END FUZZ DRIVER: support

// BEGIN FUZZ DRIVER: peer
/// Peer frames: `[chunking][padding byte] stream…`.
public func fuzzPeerFrames(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let seed = input.byte()
    let pad = input.byte()
    // A whole frame is decoded as soon as it is buffered, so at most a header and a payload less one byte wait.
    let bound = 5 + PeerProtocol.maxFramePayload - 1
    let chunks = fuzzChunks(input.bytes, seed: seed)
    let run = fuzzProcess(PeerFrameDecoder(), chunks, check) { _ in bound }
    let whole = fuzzProcess(PeerFrameDecoder(), fuzzChunks(input.bytes, seed: 0), check) { _ in bound }
    fuzzSameResult(run, whole, check)
    fuzzSameResult(fuzzLeftovers(PeerFrameDecoder(), chunks, check) { _ in bound }, whole, check)
    for frame in run.outputs {
        var wire = ByteBuffer()
        wire.writePeerFrame(frame)
        let again = fuzzProcess(PeerFrameDecoder(), [wire], check) { _ in .max }
        switch frame {
        case .data(let seq, let segment):
            check(segment.metadata.readableBytes <= Int(UInt16.max), "data frame metadata of \(segment.metadata.readableBytes) bytes")
            var header = ByteBuffer.peerDataFrameHeader(seq: seq, metadata: segment.metadata, audioBytes: segment.audio.readableBytes)
            header.writeImmutableBuffer(segment.audio)
            check(header == wire, "a data frame header and its audio differ from the whole frame")
        case .heartbeat:
            break
        case .leave(let reason):
            // The writer cuts a reason to 1 KiB, so only shorter ones read back.
            guard reason.utf8.count <= 1024 else { continue }
        case .tree(.evict(let node)), .tree(.relocate(let node)):
            guard node.utf8.count <= 255 else { continue }
        }
        check(
            again.error == nil && again.outputs == [frame],
            "a decoded frame does not read back once encoded: \(frame) -> \(fuzzHex(wire.readableBytesView)) -> \(again.outputs), \(fuzzErrorKey(again.error))"
        )
    }
    fuzzPadded(PeerFrameDecoder(), chunks, after: run, pad: pad, check) { _ in bound }
}

/// Request targets of joins and loss reports: `[mode] bytes…`. Mode 0: the bytes as UTF-8
/// (lossy), 1: after the join path and `?`, 2: after the loss-report path and `?`, 3: as Latin-1.
public func fuzzPeerTargets(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let mode = input.byte()
    let rest = String(decoding: input.bytes, as: UTF8.self)
    let target: String
    switch mode & 3 {
    case 0: target = rest
    case 1: target = PeerProtocol.joinPath + "?" + rest
    case 2: target = LossReport.path + "?" + rest
    default: target = String(String.UnicodeScalarView(input.bytes.map { Unicode.Scalar($0) }))
    }
    if let join = try? JoinRequest(target: target) {
        check(!join.name.isEmpty, "a join without a name was accepted")
        _ = join.hasValidProof(secret: "fuzz")
        _ = join.nonceTime
        let again = try? JoinRequest(target: join.target)
        check(again == join, "a parsed join does not read back from its target: \(join) -> \(join.target) -> \(again.map { "\($0)" } ?? "error")")
    }
    if let report = try? LossReport(target: target) {
        _ = report.asJoin.hasValidProof(secret: "fuzz")
        // The writer leaves the proof as it is (it is always hex when it makes one).
        if report.proof.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
            let again = try? LossReport(target: report.target)
            check(again == report, "a parsed loss report does not read back from its target: \(report) -> \(report.target)")
        }
    }
}
// END FUZZ DRIVER: peer
