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

    static func replay(_ target: String, _ name: String, _ bytes: [UInt8]) {
        Self.drivers[target]!(bytes, FuzzCheck { message in
            Issue.record(Comment(rawValue: "\(target)/\(name) (\(fuzzHex(bytes))): \(message)"))
        })
    }

    @Test(arguments: ["FuzzOgg", "FuzzStreamFormat"])
    func corpusAndCrashesReplayCleanly(_ target: String) {
        let corpus = fuzzInputs(Self.fuzzFolder, "Corpus", target)
        // The hand-made seeds and what the fuzzers added; fewer means the corpus went missing.
        #expect(corpus.filter { $0.name.hasPrefix("seed-") }.count >= 4, "seed inputs missing from Fuzz/Corpus/\(target)")
        #expect(corpus.count >= 20, "only \(corpus.count) inputs in Fuzz/Corpus/\(target)")
        for input in corpus {
            Self.replay(target, input.name, input.bytes)
        }
        for input in fuzzInputs(Self.fuzzFolder, "Crashes", target) {
            Self.replay(target, input.name, input.bytes)
        }
    }
}
