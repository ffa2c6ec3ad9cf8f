import ArgumentParser
import CastyICY

/// `casty-mirror`: joins a Casty fleet and re-serves its stream.
@main
struct CastyMirror: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-mirror",
        abstract: "Join a Casty fleet and re-serve its stream to players and child peers.",
        version: "casty 0.1.0"
    )

    @Option(help: "The fleet file.")
    var fleet: String = "fleet.json"

    @Option(help: "This mirror's name in the fleet file.")
    var name: String

    func run() throws {
        throw ValidationError("casty-mirror cannot join a fleet yet (see issue 4).")
    }
}
