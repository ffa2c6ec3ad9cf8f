import CastyICY
import NIOCore

// Everything between the BEGIN and END lines is copied verbatim into
// Tests/CastyICYTests/FuzzRegressionTests.swift and Tests/CastyPeerProtocolTests/FuzzRegressionTests.swift,
// so that the regression tests run exactly what the fuzz targets run; scripts/fuzz.sh refuses to
// run when the copies differ.

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
    var random = SplitMix64(seed: UInt64(seed))
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let size: Int
        switch seed & 3 {
        case 0: size = bytes.count
        case 1: size = 1
        case 2: size = 1 + Int(seed >> 2)
        default:
            let z = random.next()
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
