import ArgumentParser
import CastyServer
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

    public init() {}

    public func validate() throws {
        if self.ringSeconds < 1 { throw ValidationError("--ring-seconds must be at least 1") }
        if self.burstBytes < 0 { throw ValidationError("--burst-bytes cannot be negative") }
        if self.maxListenerLag < 16 * 1024 { throw ValidationError("--max-listener-lag must be at least 16384 bytes") }
        if self.maxListeners < 1 { throw ValidationError("--max-listeners must be at least 1") }
        if self.maxConnectionsPerAddress < 1 { throw ValidationError("--max-connections-per-address must be at least 1") }
        if self.socketSendBuffer < 4096 { throw ValidationError("--socket-send-buffer must be at least 4096 bytes") }
        if self.requestTimeout < 100 { throw ValidationError("--request-timeout must be at least 100 ms") }
    }

    /// The hub's configuration.
    public var hub: StreamHub.Configuration {
        StreamHub.Configuration(ringSeconds: self.ringSeconds, burstBytes: self.burstBytes, maxListenerLagBytes: self.maxListenerLag)
    }

    /// The server's configuration for listening on `host:port`.
    public func server(host: String, port: Int) -> NodeServer.Configuration {
        NodeServer.Configuration(
            host: host,
            port: port,
            requestTimeout: .milliseconds(Int64(self.requestTimeout)),
            socketSendBuffer: self.socketSendBuffer,
            maxListeners: self.maxListeners,
            maxConnectionsPerAddress: self.maxConnectionsPerAddress
        )
    }
}
