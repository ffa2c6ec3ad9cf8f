import Foundation

/// A throwaway certificate authority made with `openssl` in a temporary folder, for tests of TLS:
/// a root, an intermediate signed by it, and server certificates signed by the intermediate,
/// written as an ACME client writes them (`fullchain.pem`: the server's certificate then the
/// intermediate; `privkey.pem`).
public struct TestCertificateAuthority: Sendable {
    /// A server certificate's files.
    public struct Issued: Sendable {
        /// The chain: the server's certificate, then the intermediate.
        public var fullchain: String
        /// The server's private key.
        public var key: String
        /// The serial number given, in lower-case hex without leading zeros.
        public var serial: String
    }

    /// The kind of key a server certificate gets.
    public enum KeyKind: Sendable {
        case rsa
        case ecdsa
    }

    /// The folder holding every file.
    public let folder: URL
    /// The root certificate (PEM): what a client trusts.
    public let rootCertificate: String

    /// Makes a root and an intermediate in a new temporary folder.
    public init() throws {
        self.folder = FileManager.default.temporaryDirectory.appendingPathComponent("casty-test-ca-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        self.rootCertificate = self.folder.appendingPathComponent("root.pem").path
        try self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key", "-out", "root.pem",
            "-days", "3", "-subj", "/CN=Casty Test Root"])
        try self.write("ca.ext", "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
        try self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "intermediate.key", "-out", "intermediate.csr",
            "-subj", "/CN=Casty Test Intermediate"])
        try self.openssl(["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x100",
            "-days", "3", "-extfile", "ca.ext", "-out", "intermediate.pem"])
    }

    /// Issues a certificate for 127.0.0.1 and localhost with serial `serial` (hex), under `name`.
    public func issue(_ name: String, serial: UInt64, key: KeyKind = .ecdsa) throws -> Issued {
        let keyArguments = key == .rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        try self.write("\(name).ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        try self.openssl(["req"] + keyArguments + ["-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=localhost"])
        try self.openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key",
            "-set_serial", "0x" + String(serial, radix: 16), "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem"])
        let leaf = try String(contentsOf: self.folder.appendingPathComponent("\(name).pem"), encoding: .utf8)
        let intermediate = try String(contentsOf: self.folder.appendingPathComponent("intermediate.pem"), encoding: .utf8)
        try self.write("\(name)-fullchain.pem", leaf + intermediate)
        return Issued(
            fullchain: self.folder.appendingPathComponent("\(name)-fullchain.pem").path,
            key: self.folder.appendingPathComponent("\(name).key").path,
            serial: String(serial, radix: 16)
        )
    }

    /// Writes `text` to `name` in the folder; returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let url = self.folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Removes the folder.
    public func remove() {
        try? FileManager.default.removeItem(at: self.folder)
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = self.folder
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailed(arguments: arguments, said: String(decoding: said, as: UTF8.self))
        }
    }

    /// `openssl` failed.
    public struct OpenSSLFailed: Error, CustomStringConvertible {
        public var arguments: [String]
        public var said: String
        public var description: String { "openssl \(self.arguments.joined(separator: " ")): \(self.said)" }
    }
}
