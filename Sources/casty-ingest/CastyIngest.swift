import ArgumentParser
import CCurl
import CastyICY

/// `casty-ingest`: pulls a radio with libcurl, numbers its segments and roots the tree.
@main
struct CastyIngest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casty-ingest",
        abstract: "Pull an internet radio stream and serve it as the root of a Casty fleet.",
        version: "casty 0.1.0 (\(String(cString: curl_version())))"
    )

    @Argument(help: "The radio's stream URL (http or https).")
    var url: String?

    @Option(help: "The TCP port to serve players and peers on.")
    var port: Int = 8000

    func run() throws {
        throw ValidationError("casty-ingest cannot relay yet: only the ICY codec exists so far (see issue 3).")
    }
}
