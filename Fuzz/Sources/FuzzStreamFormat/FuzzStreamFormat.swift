import CastyFuzzDrivers
import FuzzMain

/// One input from libFuzzer; a broken invariant traps, which libFuzzer saves as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    fuzzStreamFormats(bytes, FuzzCheck { message in fatalError("fuzz invariant: \(message)") })
    return 0
}

/// The entry point SwiftPM links as `main` (see `fuzzMain`).
@_cdecl("FuzzStreamFormat_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv) { data, count in
        data.map { fuzz($0, count) } ?? 0
    }
}
