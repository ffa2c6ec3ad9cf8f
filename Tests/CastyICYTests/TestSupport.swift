import CastyICY
import NIOCore

/// Feeds `chunks` one by one through a `NIOSingleStepByteToMessageProcessor`, as a socket or
/// libcurl's write callback would, and returns everything decoded. With `finish`, ends the stream.
func decodeAll<D: NIOSingleStepByteToMessageDecoder>(
    _ decoder: D,
    _ chunks: [ByteBuffer],
    finish: Bool = true
) throws -> [D.InboundOut] {
    let processor = NIOSingleStepByteToMessageProcessor(decoder)
    var out: [D.InboundOut] = []
    for chunk in chunks {
        try processor.process(buffer: chunk) { out.append($0) }
    }
    if finish {
        try processor.finishProcessing(seenEOF: true) { out.append($0) }
    }
    return out
}

/// Cuts `bytes` into pieces at the given cut points (any order, duplicates allowed).
func split(_ bytes: [UInt8], at cuts: [Int]) -> [ByteBuffer] {
    var points = Set(cuts.map { min(max($0, 0), bytes.count) })
    points.insert(0)
    points.insert(bytes.count)
    let sorted = points.sorted()
    return zip(sorted, sorted.dropFirst()).map { ByteBuffer(bytes: bytes[$0.0..<$0.1]) }
}

/// Every byte on its own.
func bytewise(_ bytes: [UInt8]) -> [ByteBuffer] {
    bytes.map { ByteBuffer(bytes: [$0]) }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(self.readableBytesView) }
}

/// Catches an `ICYError` thrown by `body`; `nil` if nothing (or something else) was thrown.
func icyError(_ body: () throws -> Void) -> ICYError? {
    do {
        try body()
        return nil
    } catch let error as ICYError {
        return error
    } catch {
        return nil
    }
}
