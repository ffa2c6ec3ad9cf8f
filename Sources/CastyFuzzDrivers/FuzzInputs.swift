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
