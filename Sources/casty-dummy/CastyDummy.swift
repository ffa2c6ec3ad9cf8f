import ArgumentParser
import CastyICY

/// `casty-dummy`: a load client that checks segment numbering.
@main
struct CastyDummy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-dummy",
        abstract: "Join a Casty node as a player or a peer, count segments and report gaps.",
        version: "casty 0.1.0"
    )

    @Argument(help: "The node's URL.")
    var url: String

    func run() throws {
        throw ValidationError("casty-dummy cannot connect yet (see issue 4).")
    }
}
