// swift-tools-version: 6.0
// libFuzzer targets for every parser that reads bytes from the network. Not part of the root
// package's build or tests; run through scripts/fuzz.sh, which builds them with
// `-sanitize=fuzzer,address -parse-as-library` (see Fuzz/README.md).
import PackageDescription

// A package referenced by path is identified by its folder's name, not by the name in its
// manifest: the checkout is `casty` in one clone, `main` in another, `Casty-CI` in a third. So the
// identity is read off this manifest's own location (the folder above `Fuzz/`) instead of being
// written down.
let root = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? "casty"

let package = Package(
    name: "CastyFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        // Same requirements as the root package, which resolves them for both.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver (see FuzzMain/FuzzMain.swift).
        .target(name: "CLibFuzzer"),
        // The entry point every fuzz target shares; the drivers themselves are the root package's
        // CastyFuzzDrivers, which the regression tests run too.
        .target(name: "FuzzMain", dependencies: ["CLibFuzzer"]),
        .executableTarget(name: "FuzzICYRequest", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzICYResponse", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzICYResponseHead", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzICYSegment", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzICYMetadata", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzPeerFrames", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzJoinRequest", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzOgg", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
        .executableTarget(name: "FuzzStreamFormat", dependencies: ["FuzzMain", .product(name: "CastyFuzzDrivers", package: root)]),
    ],
    swiftLanguageModes: [.v6]
)
