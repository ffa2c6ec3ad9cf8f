import ArgumentParser
import CastyCommandLine
import CastyMedia
import CastyNode
import CastyTree

/// `casty-mirror`: joins a Casty fleet and re-serves its stream.
@main
struct CastyMirror: CastyCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-mirror",
        abstract: "Join a Casty fleet and re-serve its stream to players and child peers.",
        discussion: """
            The mirror listens on the host and port the fleet file gives it, joins the tree through the
            ingest, and serves players at http://HOST:PORT/, /status and /status.json.
            """,
        version: CastyVersion.string
    )

    static let examples = [
        (command: "casty-mirror --fleet fleet.json --name m1", comment: "join the fleet in fleet.json as its mirror m1 (its ingest must run: casty-ingest --fleet fleet.json)"),
        (command: "casty-mirror --fleet fleet.json --name m2 --listen 0.0.0.0", comment: "the same for m2, serving players on every address"),
        (command: "casty-mirror --fleet fleet.json --name m1 --take-over", comment: "upgrade the running m1: the new binary takes its sockets and players, the old one exits"),
    ]

    static func main() async { await Self.castyMain() }

    @Option(help: "The fleet file.")
    var fleet: String = "fleet.json"

    @Option(help: "This mirror's name in the fleet file.")
    var name: String

    @Option(help: "Listen on this address instead of the fleet file's host (e.g. 0.0.0.0).")
    var listen: String?

    @OptionGroup var serving: ServingOptions

    @OptionGroup var handover: HandoverOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        raiseOpenFileLimit()
        let fleet = try FleetFile.load(path: self.fleet)
        let node = try fleet.node(named: self.name)
        guard node.name != fleet.ingest.name else {
            throw ValidationError("'\(self.name)' is the fleet's ingest; start it with casty-ingest --fleet \(self.fleet)")
        }
        guard node.name != fleet.standby?.name else {
            throw ValidationError("'\(self.name)' is the fleet's standby root; start it with casty-ingest --fleet \(self.fleet) --name \(self.name)")
        }
        let logger = self.logging.bootstrap(label: "casty.mirror", nodeName: self.name)
        let configuration = MirrorNode.Configuration(
            name: self.name,
            fleet: fleet,
            hub: self.serving.hub,
            server: self.serving.server(host: self.listen ?? node.host, port: node.port, tls: try self.serving.tls(fleetNode: node)),
            fleetPath: self.fleet,
            controlSocket: self.handover.path(name: self.name, port: node.port),
            takeOver: self.handover.takeOver
        )
        try await MirrorNode(configuration: configuration, logger: logger).run()
    }
}
