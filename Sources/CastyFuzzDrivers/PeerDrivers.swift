import CastyICY
import CastyPeerProtocol
import NIOCore

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
        case .tree(.evict(let node)), .tree(.relocate(let node)), .tree(.drain(let node)):
            guard node.utf8.count <= 255 else { continue }
        case .context(let headers):
            // The writer stops before the line that would pass the limit (Latin-1 read as UTF-8 grows).
            guard headers.reduce(0, { $0 + "\($1.name): \($1.value)\r\n".utf8.count }) <= PeerFrame.maxContextBytes else { continue }
        case .codecHeaders:
            break
        case .place(_, let path):
            // Invalid UTF-8 read as replacement characters grows; the writer cuts at the limit.
            guard path.joined(separator: ",").utf8.count <= PeerFrame.maxPlaceBytes - 2 else { continue }
        case .term(_, let root):
            guard root.utf8.count <= 255 else { continue }
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
