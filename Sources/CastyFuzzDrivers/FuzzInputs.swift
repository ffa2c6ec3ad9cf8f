import Foundation

/// The files of `<fuzzFolder>/<folder>/<target>/` (a fuzz target's `Corpus` or `Crashes`),
/// sorted by name, with their bytes: what the regression tests replay.
public func fuzzInputs(_ fuzzFolder: URL, _ folder: String, _ target: String) -> [(name: String, bytes: [UInt8])] {
    let directory = fuzzFolder.appendingPathComponent(folder).appendingPathComponent(target)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.sorted().filter { !$0.hasSuffix(".log") }.compactMap { name in
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else { return nil }
        return (name, Array(data))
    }
}

/// Replays a fuzz target's kept corpus and its crashes (`<fuzzFolder>/Corpus/<target>/`,
/// `<fuzzFolder>/Crashes/<target>/`) through `driver`, handing every broken invariant to `report`
/// with the input's name and bytes. Returns how many corpus inputs there were, and how many of
/// them are hand-made seeds (`seed-*`), for the caller to check that the corpus is all there.
public func fuzzReplay(
    _ fuzzFolder: URL,
    target: String,
    driver: ([UInt8], FuzzCheck) -> Void,
    report: @escaping (String) -> Void
) -> (corpus: Int, seeds: Int) {
    let corpus = fuzzInputs(fuzzFolder, "Corpus", target)
    for input in corpus + fuzzInputs(fuzzFolder, "Crashes", target) {
        driver(input.bytes, FuzzCheck { message in report("\(target)/\(input.name) (\(fuzzHex(input.bytes))): \(message)") })
    }
    return (corpus.count, corpus.filter { $0.name.hasPrefix("seed-") }.count)
}
