import CastyFuzzDrivers
import CastyICY
import Foundation
import NIOCore
import Testing

/// Replays every input the fuzzers kept (Fuzz/Corpus/<Target>/) and every crash they found
/// (Fuzz/Crashes/<Target>/) through the same drivers the fuzz targets run (Fuzz/README.md,
/// scripts/fuzz.sh): no input may crash a decoder or break one of the drivers' invariants.
@Suite struct FuzzRegressionTests {
    /// `<repo>/Fuzz`, found from this file's own path.
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    nonisolated(unsafe) static let drivers: [String: ([UInt8], FuzzCheck) -> Void] = [
        "FuzzICYRequest": fuzzICYRequest,
        "FuzzICYResponse": fuzzICYResponse,
        "FuzzICYResponseHead": fuzzICYResponseHead,
        "FuzzICYSegment": fuzzICYSegments,
        "FuzzICYMetadata": fuzzICYMetadata,
    ]

    @Test(arguments: ["FuzzICYRequest", "FuzzICYResponse", "FuzzICYResponseHead", "FuzzICYSegment", "FuzzICYMetadata"])
    func corpusAndCrashesReplayCleanly(_ target: String) {
        let counts = fuzzReplay(Self.fuzzFolder, target: target, driver: Self.drivers[target]!) { Issue.record(Comment(rawValue: $0)) }
        // The hand-made seeds and what the fuzzers added; fewer means the corpus went missing.
        #expect(counts.seeds >= 4, "seed inputs missing from Fuzz/Corpus/\(target)")
        #expect(counts.corpus >= 20, "only \(counts.corpus) inputs in Fuzz/Corpus/\(target)")
    }

    /// Bug: `ICYResponseDecoder.decodeLast` (ICYResponseDecoder.swift:59) runs `decodeLast` on the
    /// copy of its head decoder taken *before* `self.decode(buffer:)` consumed the status and header
    /// lines. That copy's scanner still says 10 bytes were searched, the buffer now has 0: "Range
    /// requires lowerBound <= upperBound" at ICYHeadScanner.swift:38 (a trap; unchecked in -O).
    /// `decodeLast` gets bytes that `decode` never saw from `ByteToMessageHandler` after a re-entrant
    /// read followed by `channelInactive` (never from `NIOSingleStepByteToMessageProcessor`).
    @Test
    func responseDecodeLastOnBytesNotYetDecoded() throws {
        var decoder = ICYResponseDecoder()
        var buffer = ByteBuffer(bytes: [0x49, 0x43, 0x59, 0x20, 0x32, 0x30, 0x30, 0x20, 0x4F, 0x4B])  // "ICY 200 OK"
        #expect(try decoder.decode(buffer: &buffer) == nil)
        // "\r\nicy-name: x\r\n", then the end of the stream
        buffer.writeBytes([0x0D, 0x0A, 0x69, 0x63, 0x79, 0x2D, 0x6E, 0x61, 0x6D, 0x65, 0x3A, 0x20, 0x78, 0x0D, 0x0A])
        #expect(throws: ICYError.self) { _ = try decoder.decodeLast(buffer: &buffer, seenEOF: true) }
    }
}


