import ArgumentParser
import CastyCommandLine
import CastyMedia
import CastyNode
import CastyTree

/// `casty-ingest`: pulls a radio with libcurl, numbers its segments and serves them.
@main
struct CastyIngest: CastyCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-ingest",
        abstract: "Pull an internet radio stream and serve it as the root of a Casty fleet.",
        discussion: """
            Players connect to http://HOST:PORT/ (any path is the stream); /status is a live page and
            /status.json reports the node. A radio that cannot be reached is retried with backoff.
            """,
        version: CastyVersion.string
    )

    static let examples = [
        (command: "casty-ingest http://127.0.0.1:18000/stream --port 8000", comment: "relay one radio to players on port 8000 (listen: mpg123 http://127.0.0.1:8000/)"),
        (command: "casty-ingest --fleet fleet.json", comment: "be the root of the fleet in fleet.json (then start its mirrors with casty-mirror)"),
        (command: "casty-ingest --fleet fleet.json --name root2", comment: "be the fleet's standby root, which takes over when the root dies"),
        (command: "casty-ingest --fleet fleet.json --take-over", comment: "upgrade the running root: the new binary takes its sockets, players and children, and splices the radio"),
    ]

    static func main() async { await Self.castyMain() }

    @Argument(help: "The radio's stream URL (http or https). Taken from the fleet file when --fleet is given.")
    var url: String?

    @Option(help: "The fleet file; the ingest's address and the upstream URL come from it.")
    var fleet: String?

    @Option(help: "With --fleet: which ingest to be, the fleet's ingest (the default) or its standby root.")
    var name: String?

    @Option(help: "The address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "The TCP port to serve players on.")
    var port: Int?

    @OptionGroup var serving: ServingOptions

    @OptionGroup var handover: HandoverOptions

    @Option(help: "Seconds without a byte from upstream before reconnecting.")
    var silenceTimeout: Int = 5

    @Flag(help: "Connect upstream only while someone listens, and disconnect --idle-seconds after the last one leaves.")
    var onDemand = false

    @Option(help: "With --on-demand, seconds without listeners before disconnecting upstream.")
    var idleSeconds: Int = 10

    @Option(help: "A PEM file of certificate authorities to trust for an https upstream (default: the system's).")
    var caFile: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if self.url == nil && self.fleet == nil {
            throw ValidationError("give the radio's URL, or --fleet FILE")
        }
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port must be between 0 and 65535, not \(port)")
        }
        if self.idleSeconds < 0 { throw ValidationError("--idle-seconds cannot be negative") }
        if self.name != nil && self.fleet == nil { throw ValidationError("--name needs --fleet") }
        if self.silenceTimeout < 1 { throw ValidationError("--silence-timeout must be at least 1 second") }
    }

    func run() async throws {
        raiseOpenFileLimit()
        let fleet = try self.fleet.map { try FleetFile.load(path: $0) }
        let name = self.name ?? fleet?.ingest.name ?? "ingest"
        var node: FleetFile.Node?
        if let fleet {
            if let standby = fleet.standby, standby.name == name {
                node = standby
            } else if name == fleet.ingest.name {
                node = fleet.ingest
            } else {
                let standby = fleet.standby.map { " or its standby '\($0.name)'" } ?? ""
                throw ValidationError("'\(name)' is not an ingest of the fleet file: give its ingest '\(fleet.ingest.name)'\(standby)")
            }
        }
        if self.onDemand && fleet?.standby != nil { throw ValidationError("--on-demand cannot be used in a fleet with a standby root: both ingests pull the radio all the time") }
        let host = node.map { self.host == "0.0.0.0" ? $0.host : self.host } ?? self.host
        let port = self.port ?? node?.port ?? 8000
        let configuration = IngestNode.Configuration(
            name: name,
            upstreamURL: self.url ?? fleet?.upstream ?? "",
            fleet: fleet,
            hub: self.serving.hub,
            server: self.serving.server(host: host, port: port, tls: try self.serving.tls(fleetNode: node)),
            silenceTimeout: .seconds(self.silenceTimeout),
            caFile: self.caFile,
            onDemandIdle: self.onDemand ? .seconds(self.idleSeconds) : nil,
            fleetPath: self.fleet,
            controlSocket: self.handover.path(name: name, port: port),
            takeOver: self.handover.takeOver
        )
        let logger = self.logging.bootstrap(label: "casty.ingest", nodeName: name)
        try await IngestNode(configuration: configuration, logger: logger).run()
    }
}
