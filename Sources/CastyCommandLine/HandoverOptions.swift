import ArgumentParser
import CastyHandover
import Foundation

/// How a node is upgraded in place: the options `casty-ingest` and `casty-mirror` share.
public struct HandoverOptions: ParsableArguments {
    @Flag(
        help: """
            Take over from the running node of the same name: its listening socket, players and child peers, \
            without a lost byte (start the new binary with the old one's arguments plus this flag).
            """
    )
    public var takeOver = false

    @Option(
        help: """
            The node's control socket, where a new binary asks it to hand over \
            (default: casty-NAME-PORT.control in $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR or /tmp).
            """
    )
    public var controlSocket: String?

    public init() {}

    /// The control socket's path for node `name` serving on `port`.
    public func path(name: String, port: Int) -> String {
        self.controlSocket ?? ControlSocket.defaultPath(name: name, port: port, environment: ProcessInfo.processInfo.environment)
    }
}
