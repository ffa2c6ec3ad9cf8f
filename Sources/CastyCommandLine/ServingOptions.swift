import ArgumentParser
import CastyServer
import CastyTLS
import CastyTree
import NIOCore

/// How a node serves players and children: the options `casty-ingest` and `casty-mirror` share.
public struct ServingOptions: ParsableArguments {
    @Option(help: "Audio kept for late joiners and catching-up peers, in seconds.")
    public var ringSeconds: Int = 30

    @Option(help: "Recent audio a new player gets at once, in bytes (Chromium waits for ~200 KB before it plays).")
    public var burstBytes: Int = 256 * 1024

    @Option(help: "Bytes a listener may fall behind (queued beyond its socket's buffer) before it is dropped.")
    public var maxListenerLag: Int = 512 * 1024

    @Option(help: "Players this node serves at most; more are answered 503.")
    public var maxListeners: Int = 19_000

    @Option(help: "Open connections one remote address may hold (loopback is exempt).")
    public var maxConnectionsPerAddress: Int = 64

    @Option(help: "Kernel send buffer per client socket, in bytes.")
    public var socketSendBuffer: Int = 64 * 1024

    @Option(help: "Milliseconds a client may take to send its whole request.")
    public var requestTimeout: Int = 10_000

    @Option(help: ArgumentHelp("The certificate chain for https on this node's port (PEM, e.g. certbot's fullchain.pem).", valueName: "path"))
    public var tlsCert: String?

    @Option(help: ArgumentHelp("The private key of --tls-cert (PEM, RSA or ECDSA, e.g. certbot's privkey.pem).", valueName: "path"))
    public var tlsKey: String?

    @Option(help: ArgumentHelp("auto: http and https on the same port; only: https only. With --tls-cert.", valueName: "auto|only"))
    public var tlsMode: String?

    public init() {}

    public func validate() throws {
        if self.ringSeconds < 1 { throw ValidationError("--ring-seconds must be at least 1") }
        if self.burstBytes < 0 { throw ValidationError("--burst-bytes cannot be negative") }
        if self.maxListenerLag < 16 * 1024 { throw ValidationError("--max-listener-lag must be at least 16384 bytes") }
        if self.maxListeners < 1 { throw ValidationError("--max-listeners must be at least 1") }
        if self.maxConnectionsPerAddress < 1 { throw ValidationError("--max-connections-per-address must be at least 1") }
        if self.socketSendBuffer < 4096 { throw ValidationError("--socket-send-buffer must be at least 4096 bytes") }
        if self.requestTimeout < 100 { throw ValidationError("--request-timeout must be at least 100 ms") }
        if (self.tlsCert == nil) != (self.tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let mode = self.tlsMode, TLSMode(rawValue: mode) == nil {
            throw ValidationError("--tls-mode must be auto (http and https on one port) or only (https only), not '\(mode)'")
        }
    }

    /// The certificate store of this node's port: from `--tls-cert`/`--tls-key`, else from the
    /// node's `"tls"` in the fleet file, else none (plain http). Reads and checks the files now,
    /// so that a node with a bad certificate does not start. In a fleet (`fleetNode` given) the
    /// port must answer http too: the nodes' own links are plain http.
    public func tls(fleetNode: FleetFile.Node? = nil) throws -> TLSCertificateStore? {
        if fleetNode != nil, self.tlsMode == TLSMode.only.rawValue {
            throw ValidationError("--tls-mode only cannot be used in a fleet: the nodes' own links are plain http, so its port must answer http too (auto)")
        }
        let files: TLSFiles
        var mode = self.tlsMode
        if let cert = self.tlsCert, let key = self.tlsKey {
            files = TLSFiles(cert: cert, key: key)
        } else if let tls = fleetNode?.tls {
            files = TLSFiles(cert: tls.cert, key: tls.key)
            mode = mode ?? tls.mode
        } else {
            return nil
        }
        return try TLSCertificateStore(files: files, mode: mode.flatMap(TLSMode.init(rawValue:)) ?? .auto)
    }

    /// The hub's configuration.
    public var hub: StreamHub.Configuration {
        StreamHub.Configuration(ringSeconds: self.ringSeconds, burstBytes: self.burstBytes, maxListenerLagBytes: self.maxListenerLag)
    }

    /// The server's configuration for listening on `host:port`, with https when `tls` is given.
    public func server(host: String, port: Int, tls: TLSCertificateStore? = nil) -> NodeServer.Configuration {
        var configuration = NodeServer.Configuration(
            host: host,
            port: port,
            requestTimeout: .milliseconds(Int64(self.requestTimeout)),
            socketSendBuffer: self.socketSendBuffer,
            maxListeners: self.maxListeners,
            maxConnectionsPerAddress: self.maxConnectionsPerAddress
        )
        configuration.tls = tls
        return configuration
    }
}
