import Foundation
import NIOSSL

/// A node's certificate chain and private key, read from their files and checked, with the TLS
/// context that serves them: what a handshake presents.
public struct TLSIdentity: Sendable {
    /// The files it was read from.
    public let files: TLSFiles
    /// The context new handshakes use.
    public let context: NIOSSLContext
    /// The node's own certificate's serial number, in hex (what the logs say after a reload).
    public let serial: String
    /// When the node's own certificate expires.
    public let notValidAfter: Date
    /// Certificates in the chain (the node's own, then the intermediate ones).
    public let chainLength: Int

    /// Reads `files` and makes the context, or says in one line what is wrong with them.
    public static func load(_ files: TLSFiles) throws(TLSError) -> TLSIdentity {
        let certBytes = try Self.read(files.cert)
        let keyBytes = try Self.read(files.key)
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(certBytes)
        } catch {
            throw .noCertificate(path: files.cert, reason: "\(error)")
        }
        guard let leaf = chain.first else { throw .noCertificate(path: files.cert, reason: "no BEGIN CERTIFICATE block") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw .badKey(path: files.key, reason: "\(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // The key was read above: what fails is that it is not the certificate's.
            throw .mismatch(cert: files.cert, key: files.key)
        } catch {
            throw .unusable(reason: "\(error)")
        }
        return TLSIdentity(
            files: files,
            context: context,
            serial: leaf.serialNumber.map { String(format: "%02x", $0) }.joined(),
            notValidAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)),
            chainLength: chain.count
        )
    }

    private static func read(_ path: String) throws(TLSError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? error.localizedDescription
            throw .unreadable(path: path, reason: Self.shortReason(reason, path: path))
        }
    }

    /// errno's words rather than Foundation's long description.
    private static func shortReason(_ reason: String, path: String) -> String {
        if access(path, F_OK) != 0 { return "no such file" }
        if access(path, R_OK) != 0 { return "permission denied (the file must be readable by this node's user)" }
        return reason
    }
}
