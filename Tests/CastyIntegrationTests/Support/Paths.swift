import Foundation
import Synchronization

/// Where things are: the package root (from this file's path) and the build's binaries (next to
/// the test runner).
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binaries: URL = {
        // `CASTY_TEST_BINARIES`: another build's binaries (a release build, or an older commit's
        // to show that a test fails there).
        if let folder = ProcessInfo.processInfo.environment["CASTY_TEST_BINARIES"], !folder.isEmpty {
            return URL(fileURLWithPath: folder)
        }
        // The runner is `<bin>/castyPackageTests.xctest` (or `swift-testing` beside it).
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: url.appendingPathComponent("casty-ingest").path) {
            url = packageRoot.appendingPathComponent(".build/debug")
        }
        return url
    }()
    /// A script of the product's own under `scripts/` (the test radio, the fleet and upgrade scripts).
    static func script(_ relative: String) -> URL { packageRoot.appendingPathComponent("scripts").appendingPathComponent(relative) }
    /// A program that only the tests use, under `Tests/Fixtures/` (fake radios, the status page check).
    static func fixture(_ name: String) -> URL { packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(name) }
    static func binary(_ name: String) -> URL { binaries.appendingPathComponent(name) }

    /// A fresh folder under the system's temporary folder.
    static func temporaryFolder(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Every port `freePort()` has handed out in this test process.
private let handedOutPorts = Mutex(Set<Int>())

/// A TCP port on 127.0.0.1 that nothing listens on right now, and that this test process has not
/// been given before: the kernel may offer a port again as soon as the probe socket is closed, and a
/// fleet file naming one port for two nodes is refused by the ingest.
func freePort() throws -> Int {
    for _ in 0..<100 {
        let port = try probeFreePort()
        if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
    }
    throw TestFailure("no new free port after 100 tries")
}

private func probeFreePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
