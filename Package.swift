// swift-tools-version: 6.0
import PackageDescription

// Products of the packages Casty depends on, named once (as swift-nio's own manifest does).
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1: Target.Dependency = .product(name: "NIOHTTP1", package: "swift-nio")
let nioConcurrencyHelpers: Target.Dependency = .product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let nioTestUtils: Target.Dependency = .product(name: "NIOTestUtils", package: "swift-nio")
let nioEmbedded: Target.Dependency = .product(name: "NIOEmbedded", package: "swift-nio")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let dequeModule: Target.Dependency = .product(name: "DequeModule", package: "swift-collections")
let atomics: Target.Dependency = .product(name: "Atomics", package: "swift-atomics")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")
let propertyBased: Target.Dependency = .product(name: "PropertyBased", package: "swift-property-based")
let nioSSL: Target.Dependency = .product(name: "NIOSSL", package: "swift-nio-ssl")

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
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
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
        .target(name: "CastyICY", dependencies: [nioCore, nioHTTP1]),
        // The peer protocol between nodes: join requests with proofs, framed segments. No I/O.
        .target(name: "CastyPeerProtocol", dependencies: ["CastyICY", nioCore, nioHTTP1, crypto]),
        // Media formats, no I/O: format sniffing, MP3/ADTS frame sync, Ogg pages and streams,
        // playlists, player framing, where a listener may start; and Casty's version.
        .target(name: "CastyMedia", dependencies: ["CastyICY", nioCore]),
        // The stream, no I/O: numbering, the ring of recent segments, the ledger, the stream's
        // context and identity, splicing reconnects and take-overs, rechunking, reconnect backoff.
        .target(name: "CastyStream", dependencies: ["CastyMedia", "CastyICY", "CastyPeerProtocol", dequeModule, nioCore, nioHTTP1]),
        // The tree and the fleet, no I/O: join policy and admission, the coordinator, child slots,
        // rejoins, the lost-parent and term rules, the ingest's role, the fleet file and secrets;
        // and a node's share of them behind locks (the peer directory, the root election).
        .target(name: "CastyTree", dependencies: ["CastyPeerProtocol", dequeModule, nioConcurrencyHelpers]),
        // The hand-over to a new binary: the state a node hands over, the messages, the control
        // socket that carries them with the descriptors (Unix socket, SCM_RIGHTS), and what is
        // taken from each channel (its socket's descriptor, the bytes it still holds unwritten).
        .target(name: "CastyHandover", dependencies: ["CastyMedia", nioCore, nioConcurrencyHelpers]),
        // What each fuzz target runs on one input, with its invariants: shared by the libFuzzer
        // targets in Fuzz/ and the regression tests that replay their corpus; and the seeded
        // generator the randomized tests share.
        .target(name: "CastyFuzzDrivers", dependencies: ["CastyICY", "CastyPeerProtocol", "CastyMedia", nioCore]),
        // The upstream transport: libcurl pulling a radio or a parent, with reconnects.
        .target(
            name: "CastyUpstream",
            dependencies: [
                "CastyICY", "CastyPeerProtocol", "CastyMedia", "CastyStream", "CastyTree", "CCurl", atomics, logging, nioCore,
                nioConcurrencyHelpers,
            ]
        ),
        // A node's requests to other nodes and its polls of their status: the control client (a
        // small HTTP/1 client on the node's event loops, for loss reports, a standby's questions to
        // the other ingest, status polls) and the root's fleet monitor. Beside the server, not in it.
        .target(
            name: "CastyControl",
            dependencies: ["CastyMedia", "CastyPeerProtocol", "CastyTree", nioCore, nioPosix, nioHTTP1, nioConcurrencyHelpers, serviceLifecycle]
        ),
        // TLS on a node's port (swift-nio-ssl): the certificate and key from their files, checked,
        // reloaded without touching open connections, and the handler that tells a TLS handshake
        // from a plain request by its first byte.
        .target(name: "CastyTLS", dependencies: [nioCore, nioSSL, nioConcurrencyHelpers, logging]),
        // The serving transport: SwiftNIO server for players and child peers, fan-out, status.
        .target(
            name: "CastyServer",
            dependencies: [
                "CastyICY", "CastyMedia", "CastyStream", "CastyTree", "CastyHandover", "CastyPeerProtocol", "CastyTLS", dequeModule, nioCore,
                nioPosix, nioHTTP1, nioConcurrencyHelpers, atomics, logging, serviceLifecycle, prometheus,
            ],
            resources: [.copy("Resources/status.html")]
        ),
        // A node's own logic over the transports: the services that feed its hub (the ingest's
        // radio, on demand or not; a mirror's parent link), loss reports, and the assembly of an
        // ingest or a mirror (wiring the server to the control client and the fleet monitor). The
        // transports are protocols, so tests drive it with fakes.
        .target(
            name: "CastyNode",
            dependencies: [
                "CastyICY", "CastyMedia", "CastyStream", "CastyTree", "CastyHandover", "CastyPeerProtocol", "CastyUpstream", "CastyServer",
                "CastyControl", "CastyTLS",
                atomics, crypto, logging, nioCore, nioPosix,
                serviceLifecycle, .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // What the executables share: logging and common options.
        .target(name: "CastyCommandLine", dependencies: ["CastyServer", "CastyHandover", "CastyTLS", "CastyTree", nioCore, argumentParser, logging]),
        .executableTarget(
            name: "casty-ingest",
            dependencies: ["CastyMedia", "CastyTree", "CastyNode", "CastyCommandLine", argumentParser]
        ),
        .executableTarget(
            name: "casty-mirror",
            dependencies: ["CastyMedia", "CastyTree", "CastyNode", "CastyCommandLine", argumentParser]
        ),
        .executableTarget(
            name: "casty-dummy",
            dependencies: [
                "CastyICY", "CastyMedia", "CastyTree", "CastyPeerProtocol", "CastyCommandLine", nioCore, nioPosix,
                nioConcurrencyHelpers, argumentParser, logging,
            ]
        ),
        // The benchmarks' load generator (C, epoll): many ICY listeners from few processes, for
        // Benchmarks/bench.sh. Not a product: built by name.
        .executableTarget(
            name: "casty-loadgen",
            path: "Benchmarks/casty-loadgen",
            linkerSettings: [.linkedLibrary("m")]
        ),
        // Release-mode benchmarks, run by Benchmarks/bench-*.sh; never timed in tests.
        .executableTarget(
            name: "ICYDecodeBenchmark",
            dependencies: ["CastyICY", nioCore],
            path: "Benchmarks/ICYDecodeBenchmark"
        ),
        .testTarget(name: "CastyICYTests", dependencies: ["CastyICY", "CastyFuzzDrivers", nioCore, nioHTTP1, nioTestUtils, propertyBased]),
        .testTarget(name: "CastyPeerProtocolTests", dependencies: ["CastyPeerProtocol", "CastyICY", "CastyFuzzDrivers", nioCore, nioHTTP1]),
        // Ogg pages and header packets built in code, for the media and the stream tests; not a
        // product.
        .target(name: "CastyMediaTestSupport", dependencies: ["CastyMedia", nioCore], path: "Tests/CastyMediaTestSupport"),
        .testTarget(name: "CastyMediaTests", dependencies: ["CastyMedia", "CastyICY", "CastyFuzzDrivers", "CastyMediaTestSupport", nioCore]),
        .testTarget(
            name: "CastyStreamTests",
            dependencies: ["CastyStream", "CastyMedia", "CastyICY", "CastyPeerProtocol", "CastyFuzzDrivers", "CastyMediaTestSupport", nioCore, nioHTTP1]
        ),
        // The fleet the tree, server and node tests share (`FleetFile.test(...)`); not a product.
        .target(name: "CastyTreeTestSupport", dependencies: ["CastyTree"], path: "Tests/CastyTreeTestSupport"),
        // The tree's simulations model the mirrors' rejoin backoff, hence CastyStream.
        .testTarget(
            name: "CastyTreeTests",
            dependencies: ["CastyTree", "CastyStream", "CastyPeerProtocol", "CastyFuzzDrivers", "CastyTestSupport", "CastyTreeTestSupport"]
        ),
        .testTarget(name: "CastyHandoverTests", dependencies: ["CastyHandover", nioCore, nioEmbedded]),
        // Certificates made with openssl at test time, handshakes over loopback.
        .testTarget(name: "CastyTLSTests", dependencies: ["CastyTLS", "CastyTestSupport", nioCore, nioPosix, nioSSL, nioConcurrencyHelpers, logging]),
        // The upstream transport without curl transfers: the worker, the puller and the link over
        // fake transfers.
        // What several test targets share (a task executor with a thread of its own, for tests
        // that measure how soon something happens; `eventually`, to wait on an event rather than
        // sleep); not a product.
        .target(name: "CastyTestSupport", path: "Tests/CastyTestSupport"),
        .testTarget(
            name: "CastyUpstreamTests",
            dependencies: ["CastyUpstream", "CastyStream", "CastyICY", "CastyPeerProtocol", "CastyTestSupport", atomics, logging, nioCore, nioConcurrencyHelpers]
        ),
        // The control client and the fleet monitor against tiny HTTP servers on loopback.
        .testTarget(
            name: "CastyControlTests",
            dependencies: [
                "CastyControl", "CastyPeerProtocol", "CastyTree", "CastyTestSupport", "CastyTreeTestSupport", nioCore, nioHTTP1, nioPosix,
                nioConcurrencyHelpers,
            ]
        ),
        .testTarget(
            name: "CastyServerTests",
            dependencies: [
                "CastyServer", "CastyMedia", "CastyStream", "CastyTree", "CastyHandover", "CastyICY", "CastyPeerProtocol",
                "CastyTreeTestSupport", nioCore, nioEmbedded, nioHTTP1, logging,
            ]
        ),
        .testTarget(
            name: "CastyNodeTests",
            dependencies: [
                "CastyNode", "CastyServer", "CastyUpstream", "CastyMedia", "CastyStream", "CastyTree", "CastyICY", "CastyPeerProtocol",
                "CastyTestSupport", "CastyTreeTestSupport", atomics, logging,
                nioCore, nioPosix, nioEmbedded, nioConcurrencyHelpers, serviceLifecycle,
            ]
        ),
        .testTarget(
            name: "CastyIntegrationTests",
            dependencies: ["CastyICY", "CastyHandover", "CastyTree", "CastyServer", "CastyFuzzDrivers", "CastyTestSupport", nioCore, nioHTTP1]
        ),
    ],
    swiftLanguageModes: [.v6]
)
