import CastyTLS
import Logging
import ServiceLifecycle
import UnixSignals

/// Certificate renewal: on SIGHUP (the signal that reloads the fleet file too, and that an ACME
/// client's deploy hook sends through `systemctl reload`), reads the node's certificate and key
/// again. New handshakes present the new certificate; open connections keep theirs; a broken new
/// file keeps the old certificate serving, and the log says why.
public struct TLSReloader: Service {
    let store: TLSCertificateStore
    let logger: Logger

    /// Reloads `store` on every SIGHUP.
    public init(store: TLSCertificateStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Reloads on every SIGHUP until graceful shutdown.
    public func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            self.store.reload(logger: self.logger)
        }
    }
}
