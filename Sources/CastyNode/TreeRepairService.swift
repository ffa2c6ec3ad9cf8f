import CastyTree
import CastyPeerProtocol
import CastyServer
import Foundation
import Logging
import ServiceLifecycle

/// The tree's repair (docs/PROTOCOL.md, "Repair"), on every ingest: a few times a second it asks
/// the node's ``CastyTree/PeerDirectory`` what is due (mirrors expected after a change of the
/// tree are told again, silent ones declared failed, evictions repeated) and announces it to the
/// tree.
///
/// It runs whether or not the ingest is the root when it starts: the policy answers nothing while
/// the node is not the root, so a standby that takes over repairs its tree from its first instant
/// as root, and an ingest that steps down stops repairing.
public struct TreeRepairService: Service {
    /// How often the repair runs by default.
    public static let defaultInterval = Duration.milliseconds(250)

    let directory: PeerDirectory
    let announce: @Sendable (TreeChange) -> Void
    let interval: Duration
    let logger: Logger

    /// Creates the repair of the ingest whose directory is `directory`.
    ///
    /// - Parameters:
    ///   - directory: the ingest's directory, whose policy decides what is due.
    ///   - interval: how often to ask.
    ///   - logger: where each change is logged.
    ///   - announce: sends a change to the whole tree (the hub's broadcast).
    public init(directory: PeerDirectory, interval: Duration = Self.defaultInterval, logger: Logger, announce: @escaping @Sendable (TreeChange) -> Void) {
        self.directory = directory
        self.announce = announce
        self.interval = interval
        self.logger = logger
    }

    /// Repairs every `interval` until graceful shutdown or cancellation.
    public func run() async {
        await cancelWhenGracefulShutdown {
            while true {
                do { try await Task.sleep(for: self.interval) } catch { return }
                self.repair()
            }
        }
    }

    /// Announces what is due at `now`, and returns it.
    @discardableResult
    func repair(now: Date = Date()) -> [TreeChange] {
        let changes = self.directory.repair(now: now)
        for change in changes {
            self.logger.notice("tree repair", metadata: ["tree.change": "\(change)"])
            self.announce(change)
        }
        return changes
    }
}
