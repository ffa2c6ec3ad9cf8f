import CastyMedia
import NIOCore

/// Ogg streams through `OggStreamTracker`: `[chunking][mode] stream…`. Mode bit 0: a tracker that
/// resumes mid-stream (with the header set a first pass ended with when bit 1 is set too); bit 2:
/// a header-set limit of 700 bytes instead of 1 MiB, so that short inputs reach it.
///
/// Invariants, for every chunk: starts lie before the chunk's end and no further back than one
/// page; `start` is the first start whose page begins in the chunk; a start's stream offset holds
/// a capture pattern; at most one page less a byte is buffered; header sets are within the limit
/// and are whole, CRC-checked pages whose first is a BOS page. And the same bytes give the same
/// starts, header sets and problems whatever the chunks.
public func fuzzOggTracker(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let seed = input.byte()
    let mode = input.byte()
    let bytes = input.bytes
    let limits = OggStreamTracker.Limits(maxHeaderBytes: mode & 4 != 0 ? 700 : 1 << 20)
    var headers: OggHeaders?
    if mode & 3 == 3 {
        headers = fuzzOggRun(OggStreamTracker(limits: limits), fuzzChunks(bytes, seed: 0), bytes, limits, check).current
    }
    func tracker() -> OggStreamTracker {
        mode & 1 != 0 ? OggStreamTracker(resumingWith: headers, limits: limits) : OggStreamTracker(limits: limits)
    }
    let split = fuzzOggRun(tracker(), fuzzChunks(bytes, seed: seed), bytes, limits, check)
    let whole = fuzzOggRun(tracker(), fuzzChunks(bytes, seed: 0), bytes, limits, check)
    check(split.starts == whole.starts, "the split changed the starts: \(split.starts.map(\.streamOffset)) against \(whole.starts.map(\.streamOffset)) whole")
    check(split.problems == whole.problems, "the split changed the problems: \(split.problems) against \(whole.problems) whole")
    check(split.current == whole.current, "the split changed the header set in force")
    check(split.lastNewHeaders == whole.lastNewHeaders, "the split changed the last new header set")
}

/// What one pass of an `OggStreamTracker` over a stream gave.
public struct FuzzOggRun {
    /// Every start, its chunk-relative offset set to 0.
    public var starts: [OggStart] = []
    public var problems: [String] = []
    public var lastNewHeaders: OggHeaders?
    public var current: OggHeaders?
}

/// Feeds `chunks` (the stream `bytes`, cut up) to `tracker`, checking every result.
public func fuzzOggRun(
    _ tracker: OggStreamTracker, _ chunks: [ByteBuffer], _ bytes: ArraySlice<UInt8>, _ limits: OggStreamTracker.Limits, _ check: FuzzCheck
) -> FuzzOggRun {
    var tracker = tracker
    var run = FuzzOggRun()
    var chunkStart = 0
    var last = -1
    for chunk in chunks {
        let result = tracker.feed(chunk)
        let size = chunk.readableBytes
        for start in result.starts {
            check(start.offset < size, "a start at \(start.offset) of a chunk of \(size) bytes")
            check(start.offset > -OggPage.maxLength, "a start \(-start.offset) bytes before its chunk")
            check(start.streamOffset == chunkStart + start.offset, "a start's stream offset \(start.streamOffset) is not its chunk's \(chunkStart) + \(start.offset)")
            check(start.streamOffset > last, "starts out of order: \(start.streamOffset) after \(last)")
            last = start.streamOffset
            let at = bytes.startIndex + start.streamOffset
            check(
                at >= bytes.startIndex && at + 4 <= bytes.endIndex && bytes[at..<at + 4].elementsEqual(OggPage.capturePattern),
                "no capture pattern at the start \(start.streamOffset)"
            )
            if let headers = start.headers { fuzzOggHeaders(headers, limits, check) }
            run.starts.append(OggStart(offset: 0, streamOffset: start.streamOffset, headers: start.headers))
        }
        check(result.start == result.starts.first { $0.offset >= 0 }, "the chunk's start is not its first start")
        check(
            tracker.bufferedBytes <= OggStreamTracker.maxBufferedBytes,
            "the tracker keeps \(tracker.bufferedBytes) bytes, over \(OggStreamTracker.maxBufferedBytes)"
        )
        if let headers = result.newHeaders {
            fuzzOggHeaders(headers, limits, check)
            run.lastNewHeaders = headers
        }
        run.problems += result.problems
        chunkStart += size
        check(tracker.streamOffset == chunkStart, "the tracker counts \(tracker.streamOffset) bytes fed, not \(chunkStart)")
    }
    run.current = tracker.current
    if let current = tracker.current, current.pages.readableBytes > 0 { fuzzOggHeaders(current, limits, check) }
    return run
}

/// A header set is within the limit and is whole pages with good CRCs, the first a BOS page.
func fuzzOggHeaders(_ headers: OggHeaders, _ limits: OggStreamTracker.Limits, _ check: FuzzCheck) {
    let pages = Array(headers.pages.readableBytesView)
    check(pages.count <= limits.maxHeaderBytes, "a header set of \(pages.count) bytes, over the limit of \(limits.maxHeaderBytes)")
    check(headers.serials.contains(headers.serial), "the main serial \(headers.serial) is not among the chain's \(headers.serials)")
    var offset = 0
    while offset < pages.count {
        guard case .page(let page, let length) = OggPage.parse(pages, at: offset) else {
            check(false, "the header set is not whole pages at byte \(offset): \(OggPage.parse(pages, at: offset))")
            return
        }
        check(offset > 0 || page.isBeginOfStream, "a header set that does not begin with a BOS page")
        offset += length
    }
    check(!pages.isEmpty, "an empty header set")
}

/// Format sniffing and frame sync: `[content type] bytes…`. The content type byte picks one of a
/// few (declared MP3, AAC, Ogg, FLAC, none).
///
/// Invariants: ADTS and MP3 starts are followed by another frame exactly one frame later, and no
/// earlier offset qualifies; an Ogg start is a whole, CRC-checked page; `sniff` agrees with the
/// starts it is built on and is the same on an array and a slice; a `Check` relays as the
/// sniffed format exactly when it reports a mismatch.
public func fuzzStreamFormats(_ data: [UInt8], _ check: FuzzCheck) {
    var input = FuzzInput(data)
    let typeByte = input.byte()
    let bytes = Array(input.bytes)
    let types: [String?] = ["audio/mpeg", "audio/aacp", "application/ogg", "audio/flac", nil, "Audio/MPEG; charset=x", "", "audio/x-ogg"]
    let contentType = types[Int(typeByte) % types.count]

    if let first = ADTSFrameSync.firstFrame(in: bytes) {
        let length = ADTSFrameSync.frameLength(bytes, at: first)
        check(length != nil, "ADTS start \(first) is not a header")
        check(length.map { ADTSFrameSync.frameLength(bytes, at: first + $0) != nil } ?? false, "ADTS start \(first) is not followed by a frame")
    }
    check(ADTSFrameSync.firstFrame(in: bytes[...]) == ADTSFrameSync.firstFrame(in: bytes), "ADTS sync differs on a slice")
    if bytes.count > 1 {
        let shifted = ADTSFrameSync.firstFrame(in: bytes[1...])
        let whole = ADTSFrameSync.firstFrame(in: bytes)
        if let whole, whole >= 1 { check(shifted == whole - 1, "ADTS sync on bytes[1...] gives \(String(describing: shifted)), not \(whole - 1)") }
    }
    for offset in 0..<bytes.count {
        if let length = ADTSFrameSync.frameLength(bytes, at: offset) {
            check(length >= 7 && length < 8192, "an ADTS frame of \(length) bytes")
        }
        if case .page(let page, let length) = OggPage.parse(bytes, at: offset) {
            check(length == page.length && length <= OggPage.maxLength && offset + length <= bytes.count, "an Ogg page of \(length) bytes at \(offset)")
            check(page.packets.reduce(0) { $0 + $1.length } == page.bodyLength, "the packets of a page do not add up to its body")
        }
    }
    for format in StreamFormat.allCases {
        guard let start = format.startOffset(in: bytes) else { continue }
        check(start >= 0 && (start < bytes.count || (format == .opaque && start == 0)), "\(format) start \(start) out of \(bytes.count) bytes")
        if format == .ogg, case .page = OggPage.parse(bytes, at: start) {} else if format == .ogg {
            check(false, "the Ogg start \(start) is not a page")
        }
    }
    let sniffed = StreamFormat.sniff(bytes)
    check(sniffed != .opaque, "sniff said opaque")
    check(StreamFormat.sniff(bytes[...]) == sniffed, "sniff differs on a slice")
    if sniffed == .ogg { check(StreamFormat.ogg.startOffset(in: bytes) != nil, "sniffed Ogg without a page") }
    let verdict = StreamFormat.Check(contentType: contentType, firstBytes: bytes)
    check(verdict.declared == StreamFormat(contentType: contentType), "the check's declared format is not the content type's")
    check(verdict.sniffed == sniffed, "the check sniffed another format")
    check((verdict.mismatch == nil) == (verdict.format == verdict.declared), "a mismatch is reported exactly when the format is not the declared one")
    check(verdict.format == verdict.declared || verdict.format == sniffed, "the check chose \(verdict.format), neither declared nor sniffed")
}
