import CastyHandover
import CastyServer
import Foundation
import NIOCore

/// The new binary's side of an upgrade (`--take-over`): asks the running node of the same name,
/// over its control socket, for its sockets and state (docs/PROTOCOL.md, "Hand-over to a new
/// binary"). The caller sets everything up from them, then calls ``ready()``, and serves once it
/// returns; until then the old process serves and nothing is lost.
public final class TakeOver: Sendable {
    /// What went wrong; the old process serves on.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The state the old process handed over.
    public let state: HandoverState
    /// The listening socket.
    public let listeningSocket: CInt
    /// Each connection's socket with its state, in the state's order.
    public let connections: [(descriptor: CInt, state: HandoverState.Connection)]
    /// The old process.
    public let oldPID: Int32?
    private let connection: ControlSocket.Connection

    /// Asks the node listening on `path` (which must be node `node`) to hand over; waits at most
    /// `timeout` for its state. Blocking.
    public static func request(path: String, node: String, timeout: TimeAmount = .seconds(20)) throws(Failure) -> TakeOver {
        let connection: ControlSocket.Connection
        do {
            connection = try ControlSocket.connect(path: path)
        } catch {
            throw Failure("\(error); is node '\(node)' running on this machine? (--control-socket names another path)")
        }
        do {
            try connection.send(.hello(formatVersions: [HandoverState.currentFormatVersion], binaryVersion: BuildIdentity.current, pid: getpid()))
            let answer = try connection.receive(timeout: timeout)
            switch answer {
            case .state(let state):
                let descriptors = connection.receivedDescriptors
                guard descriptors.count == state.connections.count + 1 else {
                    throw Failure("the running node sent \(descriptors.count) sockets for \(state.connections.count) connections and its listener")
                }
                guard state.node == node else {
                    throw Failure("the node on \(path) is '\(state.node)', not '\(node)'")
                }
                return TakeOver(
                    state: state, listening: descriptors[0], connections: Array(zip(descriptors.dropFirst(), state.connections)),
                    oldPID: connection.peerPID, connection: connection
                )
            case .refused(let reason):
                throw Failure("the running node refused: \(reason)")
            default:
                throw Failure("the running node answered \(answer) instead of its state")
            }
        } catch let failure as Failure {
            try? connection.send(.refused(failure.description))
            for descriptor in connection.receivedDescriptors { close(descriptor) }
            connection.close()
            throw failure
        } catch {
            // A state this binary cannot read (another layout version) lands here too.
            try? connection.send(.refused("\(error)"))
            for descriptor in connection.receivedDescriptors { close(descriptor) }
            connection.close()
            throw Failure("\(error)")
        }
    }

    private init(state: HandoverState, listening: CInt, connections: [(descriptor: CInt, state: HandoverState.Connection)], oldPID: Int32?, connection: ControlSocket.Connection) {
        self.state = state
        self.listeningSocket = listening
        self.connections = connections
        self.oldPID = oldPID
        self.connection = connection
    }

    /// Says that everything is in place and waits for the old process to let go. Blocking.
    public func ready(timeout: TimeAmount = .seconds(20)) throws(Failure) {
        defer { self.connection.close() }
        do {
            try self.connection.send(.ready)
            let answer = try self.connection.receive(timeout: timeout)
            guard case .go = answer else { throw Failure("the running node answered \(answer) instead of go") }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("\(error)")
        }
    }

    /// Gives up: the old process takes its sockets back. Closes this process's copies.
    public func refuse(_ reason: String) {
        try? self.connection.send(.refused(reason))
        self.connection.close()
        close(self.listeningSocket)
        for connection in self.connections { close(connection.descriptor) }
    }
}
