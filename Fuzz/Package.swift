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
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // The root package exports CastyICY as a product but not CastyPeerProtocol, so that module
        // is compiled here from the root's own sources: Sources/CastyPeerProtocol is a symlink to
        // ../../Sources/CastyPeerProtocol. Target names must be unique across the package graph,
        // hence the other name.
        .target(
            name: "FuzzedPeerProtocol",
            dependencies: [
                .product(name: "CastyICY", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/CastyPeerProtocol"
        ),
        // What every fuzz target runs; copied verbatim into the FuzzRegressionTests of the root
        // package (scripts/fuzz.sh checks that the copies match).
        // Declares libFuzzer's LLVMFuzzerRunDriver (see FuzzDrivers/FuzzMain.swift).
        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzDrivers",
            dependencies: [
                "CLibFuzzer",
                "FuzzedPeerProtocol",
                .product(name: "CastyICY", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "FuzzICYRequest", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzICYResponse", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzICYResponseHead", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzICYSegment", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzICYMetadata", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzPeerFrames", dependencies: ["FuzzDrivers"]),
        .executableTarget(name: "FuzzJoinRequest", dependencies: ["FuzzDrivers"]),
    ],
    swiftLanguageModes: [.v6]
)
