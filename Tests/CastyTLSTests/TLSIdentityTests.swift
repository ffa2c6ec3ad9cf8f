import CastyTLS
import CastyTestSupport
import Foundation
import Testing

/// Certificates and keys as an ACME client writes them, read and checked; every bad file refused
/// in one line that names it; a reload that keeps the old identity when the new files are bad.
@Suite struct TLSIdentityTests {
    let ca: TestCertificateAuthority

    init() throws {
        self.ca = try TestCertificateAuthority()
    }

    @Test(arguments: [TestCertificateAuthority.KeyKind.rsa, .ecdsa])
    func readsAFullChainAndItsKey(kind: TestCertificateAuthority.KeyKind) throws {
        defer { self.ca.remove() }
        let issued = try self.ca.issue("node", serial: 0xCA57, key: kind)
        let identity = try TLSIdentity.load(TLSFiles(cert: issued.fullchain, key: issued.key))
        #expect(identity.serial == "ca57")
        #expect(identity.chainLength == 2, "the node's certificate and the intermediate")
        #expect(identity.notValidAfter > Date())
    }

    @Test func refusesEachBadFileInOneLineThatNamesIt() throws {
        defer { self.ca.remove() }
        let good = try self.ca.issue("good", serial: 1)
        let other = try self.ca.issue("other", serial: 2)
        let garbage = try self.ca.write("garbage.pem", "not a certificate\n")
        let missing = self.ca.folder.appendingPathComponent("missing.pem").path

        func error(_ cert: String, _ key: String) -> TLSError? {
            do throws(TLSError) {
                _ = try TLSIdentity.load(TLSFiles(cert: cert, key: key))
                return nil
            } catch {
                return error
            }
        }
        #expect(error(missing, good.key) == .unreadable(path: missing, reason: "no such file"))
        #expect(error(good.fullchain, missing) == .unreadable(path: missing, reason: "no such file"))
        guard case .noCertificate(let path, _)? = error(garbage, good.key) else {
            Issue.record("a file without a certificate was taken")
            return
        }
        #expect(path == garbage)
        guard case .badKey(let keyPath, _)? = error(good.fullchain, garbage) else {
            Issue.record("a file without a key was taken")
            return
        }
        #expect(keyPath == garbage)
        #expect(error(good.fullchain, other.key) == .mismatch(cert: good.fullchain, key: other.key))
        for error in [error(missing, good.key), error(garbage, good.key), error(good.fullchain, other.key)].compactMap({ $0 }) {
            #expect(!"\(error)".contains("\n"), "one line: \(error)")
        }
    }

    @Test func aReloadTakesTheNewFilesOrKeepsTheOldIdentity() throws {
        defer { self.ca.remove() }
        let first = try self.ca.issue("node", serial: 0x1111)
        let store = try TLSCertificateStore(files: TLSFiles(cert: first.fullchain, key: first.key))
        #expect(store.current.serial == "1111")

        // Renewed in place, as certbot does.
        let renewed = try self.ca.issue("renewed", serial: 0x2222)
        try FileManager.default.removeItem(atPath: first.fullchain)
        try FileManager.default.copyItem(atPath: renewed.fullchain, toPath: first.fullchain)
        try FileManager.default.removeItem(atPath: first.key)
        try FileManager.default.copyItem(atPath: renewed.key, toPath: first.key)
        #expect(try store.reload().get().serial == "2222")
        #expect(store.current.serial == "2222")

        // A broken renewal: the old identity keeps serving.
        try Data("-----BEGIN CERTIFICATE-----\ntruncated".utf8).write(to: URL(fileURLWithPath: first.fullchain))
        guard case .failure(.noCertificate) = store.reload() else {
            Issue.record("a corrupt certificate was taken")
            return
        }
        #expect(store.current.serial == "2222")
    }
}
