// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "casty",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CastyICY", targets: ["CastyICY"]),
        .library(name: "CastyPeerProtocol", targets: ["CastyPeerProtocol"]),
        .library(name: "CastyFuzzDrivers", targets: ["CastyFuzzDrivers"]),
        .executable(name: "casty-ingest", targets: ["casty-ingest"]),
        .executable(name: "casty-mirror", targets: ["casty-mirror"]),
        .executable(name: "casty-dummy", targets: ["casty-dummy"]),
        .executable(name: "casty-loadgen", targets: ["casty-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // libcurl from the system (Debian: libcurl4-openssl-dev), wrapped by a shim header
        // because Swift cannot call the variadic curl_easy_setopt/getinfo.
        .systemLibrary(
            name: "CCurl",
            path: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // The ICY codec: pure values, no I/O.
        .target(
            name: "CastyICY",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The peer protocol between nodes: join requests with proofs, framed segments. No I/O.
        .target(
            name: "CastyPeerProtocol",
            dependencies: [
                "CastyICY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // What each fuzz target runs on one input, with its invariants: shared by the libFuzzer
        // targets in Fuzz/ and the regression tests that replay their corpus.
        .target(
            name: "CastyFuzzDrivers",
            dependencies: [
                "CastyICY",
                "CastyPeerProtocol",
                "CastyCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Casty's own logic, no I/O: numbering, the ring of recent segments, player framing.
        .target(
            name: "CastyCore",
            dependencies: [
                "CastyICY",
                "CastyPeerProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The upstream transport: libcurl pulling an ICY stream, with reconnects.
        .target(
            name: "CastyCurl",
            dependencies: [
                "CastyICY",
                "CastyPeerProtocol",
                "CastyCore",
                "CCurl",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The serving transport: SwiftNIO server for players (and, later, peers).
        .target(
            name: "CastyServer",
            dependencies: [
                "CastyICY",
                "CastyCore",
                "CastyPeerProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // What the executables share: logging and common options.
        .target(
            name: "CastyCommandLine",
            dependencies: [
                "CastyServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "casty-ingest",
            dependencies: [
                "CastyICY",
                "CastyCore",
                "CastyCurl",
                "CastyServer",
                "CastyCommandLine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "casty-mirror",
            dependencies: [
                "CastyICY",
                "CastyCore",
                "CastyCurl",
                "CastyServer",
                "CastyPeerProtocol",
                "CastyCommandLine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "casty-dummy",
            dependencies: [
                "CastyICY",
                "CastyCore",
                "CastyPeerProtocol",
                "CastyCommandLine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark load generator (C, epoll): many ICY listeners from few processes, for
        // scripts/bench.sh.
        .executableTarget(
            name: "casty-loadgen",
            linkerSettings: [.linkedLibrary("m")]
        ),
        // Release-mode benchmarks, run by scripts/bench-*.sh; never timed in tests.
        .executableTarget(
            name: "ICYDecodeBenchmark",
            dependencies: [
                "CastyICY",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ICYDecodeBenchmark"
        ),
        .testTarget(
            name: "CastyPeerProtocolTests",
            dependencies: ["CastyPeerProtocol", "CastyICY", "CastyFuzzDrivers", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "CastyServerTests",
            dependencies: [
                "CastyServer", "CastyCore", "CastyICY", "CastyPeerProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CastyCoreTests",
            dependencies: ["CastyCore", "CastyICY", "CastyFuzzDrivers", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "CastyIntegrationTests",
            dependencies: [
                "CastyICY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "CastyICYTests",
            dependencies: [
                "CastyICY",
                "CastyFuzzDrivers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
