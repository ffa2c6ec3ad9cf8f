import CastyFuzzDrivers
import Foundation
import Testing

/// Replays every input the format fuzzers kept (Fuzz/Corpus/<Target>/) and every crash they
/// found (Fuzz/Crashes/<Target>/) through the same drivers the fuzz targets run (Fuzz/README.md,
/// scripts/fuzz.sh): no input may crash a parser or break one of the drivers' invariants.
@Suite struct FormatFuzzRegressionTests {
    /// `<repo>/Fuzz`, found from this file's own path.
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    nonisolated(unsafe) static let drivers: [String: ([UInt8], FuzzCheck) -> Void] = [
        "FuzzOgg": fuzzOggTracker,
        "FuzzStreamFormat": fuzzStreamFormats,
    ]

    @Test(arguments: ["FuzzOgg", "FuzzStreamFormat"])
    func corpusAndCrashesReplayCleanly(_ target: String) {
        let counts = fuzzReplay(Self.fuzzFolder, target: target, driver: Self.drivers[target]!) { Issue.record(Comment(rawValue: $0)) }
        // The hand-made seeds and what the fuzzers added; fewer means the corpus went missing.
        #expect(counts.seeds >= 4, "seed inputs missing from Fuzz/Corpus/\(target)")
        #expect(counts.corpus >= 20, "only \(counts.corpus) inputs in Fuzz/Corpus/\(target)")
    }
}
