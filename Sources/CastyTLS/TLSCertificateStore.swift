import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The identity a node's new handshakes present, which a reload replaces (SIGHUP, after an ACME
/// client renewed the files): connections already open keep the context they started with, new
/// handshakes get the new one, and a reload that fails keeps the old identity serving.
public final class TLSCertificateStore: Sendable {
    /// How the node's port speaks TLS.
    public let mode: TLSMode
    private let identity: NIOLockedValueBox<TLSIdentity>

    /// A store serving `identity`.
    public init(_ identity: TLSIdentity, mode: TLSMode = .auto) {
        self.identity = NIOLockedValueBox(identity)
        self.mode = mode
    }

    /// Loads `files`: the node does not start without a usable identity.
    public convenience init(files: TLSFiles, mode: TLSMode = .auto) throws(TLSError) {
        self.init(try TLSIdentity.load(files), mode: mode)
    }

    /// What new handshakes present.
    public var current: TLSIdentity { self.identity.withLockedValue { $0 } }

    /// The context for a new handshake.
    public var context: NIOSSLContext { self.current.context }

    /// Reads the same files again: on success new handshakes present what they hold now; on
    /// failure nothing changes (and the error says why). Open connections are never touched.
    @discardableResult
    public func reload() -> Result<TLSIdentity, TLSError> {
        let files = self.current.files
        do throws(TLSError) {
            let fresh = try TLSIdentity.load(files)
            self.identity.withLockedValue { $0 = fresh }
            return .success(fresh)
        } catch {
            return .failure(error)
        }
    }

    /// Reloads and logs what happened, in one line.
    public func reload(logger: Logger) {
        switch self.reload() {
        case .success(let identity):
            logger.notice(
                "reloaded the TLS certificate: new handshakes present it",
                metadata: ["tls.serial": "\(identity.serial)", "tls.not_after": "\(identity.notValidAfter)", "tls.cert": "\(identity.files.cert)"]
            )
        case .failure(let error):
            logger.error("kept the old TLS certificate: \(error)", metadata: ["tls.serial": "\(self.current.serial)"])
        }
    }
}
