import CastyICY
import NIOCore

/// Limits from one configuration byte: the defaults when its top bit is clear, otherwise limits
/// small enough for short inputs to reach them.
public func fuzzLimits(_ byte: UInt8) -> ICYDecoderLimits {
    guard byte & 0x80 != 0 else { return ICYDecoderLimits() }
    return ICYDecoderLimits(
        maxHeaderLineLength: 1 + Int(byte & 0x0F) * 8,
        maxHeadLength: 1 + Int((byte >> 4) & 0x07) * 48,
        maxMetaint: 1 + Int(byte & 0x3F) * 16
    )
}

/// Limits with room for any head decoded under `limits` once re-encoded (a Latin-1 byte becomes
/// two UTF-8 bytes, `name:value` becomes `name: value`, `\n` becomes `\r\n`).
func fuzzRoomyLimits(_ limits: ICYDecoderLimits) -> ICYDecoderLimits {
    ICYDecoderLimits(
        maxHeaderLineLength: 4 * limits.maxHeaderLineLength + 64,
        maxHeadLength: 4 * limits.maxHeadLength + 64,
        maxMetaint: limits.maxMetaint
    )
}

/// Player requests: `[chunking][limits][padding byte] stream…`.
public func fuzzICYRequest(_ data: [UInt8], _ check: FuzzCheck) {
    fuzzHeads(data, check, decoder: { ICYRequestDecoder(limits: $0) }) { head, limits in
        check(!head.method.isEmpty && !head.target.isEmpty, "a request head with an empty method or target")
        fuzzReadsBack(head, decoder: ICYRequestDecoder(limits: fuzzRoomyLimits(limits)), what: "request head", check) { $0.writeICYRequestHead($1) }
    }
}

/// Reply heads alone: `[chunking][limits][padding byte] stream…`.
public func fuzzICYResponseHead(_ data: [UInt8], _ check: FuzzCheck) {
    fuzzHeads(data, check, decoder: { ICYResponseHeadDecoder(limits: $0) }) { head, limits in
        check((0...999).contains(head.status.code), "status code \(head.status.code) is not three digits")
        _ = try? head.metaint(limits: limits)
        _ = try? ICYFraming.of(head, limits: limits, audioOnlySegmentSize: nil)
        fuzzReadsBack(head, decoder: ICYResponseHeadDecoder(limits: fuzzRoomyLimits(limits)), what: "reply head", check) { $0.writeICYResponseHead($1) }
    }
}

/// What the head decoders share, `[chunking][limits][padding byte] stream…`: the same heads however
/// the stream is split or left over, buffering within a line, `each` head's own checks, and a
/// stream padded without end.
func fuzzHeads<D: NIOSingleStepByteToMessageDecoder>(
    _ data: [UInt8],
    _ check: FuzzCheck,
    decoder: (ICYDecoderLimits) -> D,
    each: (D.InboundOut, ICYDecoderLimits) -> Void
) where D.InboundOut: Equatable {
    var input = FuzzInput(data)
    let seed = input.byte()
    let limits = fuzzLimits(input.byte())
    let pad = input.byte()
    let bound = limits.maxHeaderLineLength + 1
    let chunks = fuzzChunks(input.bytes, seed: seed)
    let run = fuzzProcess(decoder(limits), chunks, check) { _ in bound }
    let whole = fuzzProcess(decoder(limits), fuzzChunks(input.bytes, seed: 0), check) { _ in bound }
    fuzzSameResult(run, whole, check)
    fuzzSameResult(fuzzLeftovers(decoder(limits), chunks, check) { _ in bound }, whole, check)
    for head in run.outputs { each(head, limits) }
    fuzzPadded(decoder(limits), chunks, after: run, pad: pad, check) { _ in bound }
}

/// A decoded head, encoded with `write`, must decode to itself.
func fuzzReadsBack<D: NIOSingleStepByteToMessageDecoder>(
    _ head: D.InboundOut,
    decoder: D,
    what: String,
    _ check: FuzzCheck,
    write: (inout ByteBuffer, D.InboundOut) -> Void
) where D.InboundOut: Equatable {
    var wire = ByteBuffer()
    write(&wire, head)
    let again = fuzzProcess(decoder, [wire], check) { _ in .max }
    check(
        again.error == nil && again.outputs == [head],
        "a decoded \(what) does not read back once encoded: \(head) -> \(fuzzHex(wire.readableBytesView)) -> \(again.outputs), \(fuzzErrorKey(again.error))"
    )
}

/// The most bytes a segment decoder may keep: a segment less one byte, metadata block included.
public func fuzzSegmentBound(_ framing: ICYFraming) -> Int {
    switch framing {
    case .metadata(let interval): return interval + 1 + 255 * 16 - 1
    case .audioOnly(let size): return size - 1
    }
}

/// What every decoded segment must be, and that it reads back once encoded.
public func fuzzCheckSegment(_ segment: ICYSegment, _ framing: ICYFraming, _ check: FuzzCheck) {
    check(
        segment.audio.readableBytes == framing.audioBytesPerSegment,
        "a segment of \(segment.audio.readableBytes) audio bytes under \(framing)"
    )
    switch framing {
    case .audioOnly:
        check(segment.metadata.readableBytes == 0, "an audio-only segment with metadata")
    case .metadata:
        check(segment.metadata.readableBytes <= 255 * 16, "metadata of \(segment.metadata.readableBytes) bytes")
        check(segment.metadata.readableBytesView.last != 0, "metadata still ends in padding")
        _ = segment.metadataText
        guard let wire = try? ICYEncoder().encodeSegment(segment) else {
            check(false, "a decoded segment cannot be encoded")
            return
        }
        let again = fuzzProcess(ICYSegmentDecoder(framing: framing), [wire], check) { _ in .max }
        check(again.error == nil && again.outputs == [segment], "a decoded segment does not read back once encoded")
    }
}

/// Whole replies: `[chunking][limits][audio-only size, 0 for none][padding byte] stream…`.
public func fuzzICYResponse(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let seed = input.byte()
    let limits = fuzzLimits(input.byte())
    let audioOnlyByte = input.byte()
    let audioOnly: Int? = audioOnlyByte == 0 ? nil : Int(audioOnlyByte)
    let pad = input.byte()
    let bound: ([ICYResponsePart]) -> Int = { parts in
        guard case .head(_, let framing)? = parts.first else { return limits.maxHeaderLineLength + 1 }
        return fuzzSegmentBound(framing)
    }
    let make = { ICYResponseDecoder(limits: limits, audioOnlySegmentSize: audioOnly) }
    let chunks = fuzzChunks(input.bytes, seed: seed)
    let run = fuzzProcess(make(), chunks, check, bound: bound)
    let whole = fuzzProcess(make(), fuzzChunks(input.bytes, seed: 0), check, bound: bound)
    fuzzSameResult(run, whole, check)
    // The last bytes handed straight to decodeLast (as ByteToMessageHandler may) decode the same.
    fuzzSameResult(fuzzLeftovers(make(), chunks, check, bound: bound), whole, check)
    var framing: ICYFraming?
    for (index, part) in run.outputs.enumerated() {
        switch part {
        case .head(let head, let headFraming):
            check(index == 0, "a reply head as part \(index)")
            check(head.status.isSuccess, "a reply with status \(head.status.code) was accepted")
            switch headFraming {
            case .metadata(let interval):
                check((1...limits.maxMetaint).contains(interval), "icy-metaint \(interval) accepted under \(limits)")
                check((try? head.metaint(limits: limits)) == interval, "framing \(headFraming) but the head says \(head.metaintValue ?? "nothing")")
            case .audioOnly(let size):
                check(audioOnly == size && head.metaintValue == nil, "audio-only framing \(size) for \(head), asked \(audioOnly.map(String.init) ?? "none")")
            }
            framing = headFraming
        case .segment(let segment):
            guard let framing else {
                check(false, "a segment before the reply head")
                return
            }
            fuzzCheckSegment(segment, framing, check)
        }
    }
    fuzzPadded(make(), chunks, after: run, pad: pad, check, bound: bound)
}

/// A body alone: `[chunking][framing: bit 0 audio-only, bit 1 two size bytes][size][size high?][padding byte] body…`.
public func fuzzICYSegments(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let seed = input.byte()
    let kind = input.byte()
    var size = 1 + Int(input.byte())
    if kind & 2 != 0 { size += Int(input.byte()) << 8 }
    let pad = input.byte()
    let framing: ICYFraming = kind & 1 == 0 ? .metadata(interval: size) : .audioOnly(segmentSize: size)
    let bound = fuzzSegmentBound(framing)
    let chunks = fuzzChunks(input.bytes, seed: seed)
    let run = fuzzProcess(ICYSegmentDecoder(framing: framing), chunks, check) { _ in bound }
    let whole = fuzzProcess(ICYSegmentDecoder(framing: framing), fuzzChunks(input.bytes, seed: 0), check) { _ in bound }
    fuzzSameResult(run, whole, check)
    fuzzSameResult(fuzzLeftovers(ICYSegmentDecoder(framing: framing), chunks, check) { _ in bound }, whole, check)
    for segment in run.outputs {
        fuzzCheckSegment(segment, framing, check)
    }
    fuzzPadded(ICYSegmentDecoder(framing: framing), chunks, after: run, pad: pad, check) { _ in bound }
}

/// Metadata text: `[mode] bytes…`. Mode bit 0 clear: the bytes as UTF-8 (lossy), set: as
/// Latin-1; either is parsed and must read back from its own `text`. Mode bit 1 set: the bytes
/// are fields instead (`key 0x00 value 0x00 key …`, key bytes mapped onto key characters), built
/// into metadata that must read back from its `text`.
public func fuzzICYMetadata(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let mode = input.byte()
    let metadata: ICYMetadata
    if mode & 2 == 0 {
        let text = mode & 1 == 0
            ? String(decoding: input.bytes, as: UTF8.self)
            : String(String.UnicodeScalarView(input.bytes.map { Unicode.Scalar($0) }))
        metadata = ICYMetadata(parsing: text)
        for field in metadata.fields.dropLast() {
            check(!field.key.isEmpty, "a field without a key before the last field of \(fuzzHex(text.utf8))")
        }
    } else {
        let keyCharacters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".unicodeScalars)
        let parts = input.bytes.split(separator: 0, omittingEmptySubsequences: false)
        var fields: [ICYMetadata.Field] = []
        var index = 0
        while index < parts.count {
            var key = String.UnicodeScalarView()
            key.append(contentsOf: parts[index].map { keyCharacters[Int($0) % keyCharacters.count] })
            let value = index + 1 < parts.count
                ? (mode & 1 == 0
                    ? String(decoding: parts[index + 1], as: UTF8.self)
                    : String(String.UnicodeScalarView(parts[index + 1].map { Unicode.Scalar($0) })))
                : ""
            fields.append(.init(key: key.isEmpty ? "k" : String(key), value: value))
            index += 2
        }
        metadata = ICYMetadata(fields: fields)
    }
    let text = metadata.text
    let again = ICYMetadata(parsing: text)
    check(
        again == metadata,
        "metadata does not read back from its text \(fuzzHex(text.utf8)): \(metadata.fields) -> \(again.fields)"
    )
    check(again.text == text, "the text of read-back metadata differs: \(fuzzHex(text.utf8)) -> \(fuzzHex(again.text.utf8))")
    _ = metadata.streamTitle
    _ = metadata.streamURL
}
