import CLibFuzzer

/// The signature of `LLVMFuzzerTestOneInput`.
public typealias FuzzTestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer's driver on `testOneInput`: what a fuzz target's `<Module>_main` does.
///
/// A fuzz target has no `main` of its own (it is built with `-parse-as-library`), and libFuzzer
/// brings one. But SwiftPM links every debug executable with `--defsym main=<Module>_main` (so that
/// tests can link executables), and that symbol does not exist under `-parse-as-library`
/// (swiftlang/swift#75800). So each target defines `<Module>_main` itself, with `@_cdecl`, and
/// calls this, which does what libFuzzer's `main` does. Where SwiftPM does not rename `main`,
/// libFuzzer's own `main` runs and `<Module>_main` is simply unused.
public func fuzzMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ testOneInput: FuzzTestOneInput
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}
