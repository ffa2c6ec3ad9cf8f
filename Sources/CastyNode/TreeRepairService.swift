import CastyTree
import CastyPeerProtocol
import CastyServer
import Foundation
import Logging
import ServiceLifecycle

/// The tree's repair (docs/PROTOCOL.md, "Repair"), on every node of a fleet: a few times a
/// second it asks the node's ``CastyTree/PeerDirectory`` what is due and carries it out.
///
/// - At the root: mirrors expected after a change of the tree are told again, silent ones
///   declared failed, evictions repeated, its own children whose link died and did not come
///   back declared failed, and mirrors that say another parent than the tree's told to rejoin
///   (``CastyTree/MisplacedMirrors``); every change is announced to the tree.
/// - At a mirror: its children whose link died and did not come back are reported to the root.
///
/// It runs whether or not an ingest is the root when it starts: the policy answers nothing while
/// the node is not the root, so a standby that takes over repairs its tree from its first instant
/// as root, and an ingest that steps down stops repairing. Reports run as child tasks of the
/// service, cancelled at shutdown.
public struct TreeRepairService: Service {
    /// How often the repair runs by default.
    public static let defaultInterval = Duration.milliseconds(250)

    let directory: PeerDirectory
    let announce: @Sendable (TreeChange) -> Void
    let report: (@Sendable (String) async -> Void)?
    let placesSaid: (@Sendable () -> [String: String])?
    let interval: Duration
    let logger: Logger

    /// Creates the repair of the node whose directory is `directory`.
    ///
    /// - Parameters:
    ///   - directory: the node's directory, whose policy decides what is due.
    ///   - interval: how often to ask.
    ///   - logger: where each change and each lost child is logged.
    ///   - announce: sends a change to the whole tree (the hub's broadcast).
    ///   - report: tells the root that a child was lost (a mirror's ``LossReporter``); `nil` at an
    ///     ingest, which acts on its own children's losses itself.
    ///   - placesSaid: at an ingest, each mirror's parent as the mirror last said (its
    ///     `/status.json`, read by the ingest's monitor); `nil` at a mirror.
    public init(
        directory: PeerDirectory,
        interval: Duration = Self.defaultInterval,
        logger: Logger,
        announce: @escaping @Sendable (TreeChange) -> Void,
        report: (@Sendable (String) async -> Void)? = nil,
        placesSaid: (@Sendable () -> [String: String])? = nil
    ) {
        self.directory = directory
        self.announce = announce
        self.report = report
        self.placesSaid = placesSaid
        self.interval = interval
        self.logger = logger
    }

    /// Repairs every `interval` until graceful shutdown or cancellation; reports still under way
    /// then are cancelled.
    public func run() async {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { reports in
                while true {
                    do { try await Task.sleep(for: self.interval) } catch { break }
                    let lost = self.repair()
                    if let report = self.report {
                        for child in lost { reports.addTask { await report(child) } }
                    }
                }
                reports.cancelAll()
            }
        }
    }

    /// Announces the changes due at `now`; returns the lost children to report (a mirror's).
    @discardableResult
    func repair(now: Date = Date()) -> [String] {
        for change in self.directory.repair(now: now) {
            self.logger.notice("tree repair", metadata: ["tree.change": "\(change)"])
            self.announce(change)
        }
        if let placesSaid = self.placesSaid {
            let says = placesSaid()
            for change in self.directory.placesSaid(says, now: now) {
                if case .relocate(let node) = change {
                    self.logger.notice(
                        "tree repair: a mirror says another parent than the tree's; told to rejoin",
                        metadata: ["tree.change": "\(change)", "peer.name": "\(node)", "peer.says_parent": "\(says[node] ?? "-")"]
                    )
                }
                self.announce(change)
            }
        }
        let lost = self.directory.lostChildren(now: now)
        for child in lost {
            self.logger.notice("child lost", metadata: ["peer.name": "\(child)"])
        }
        return lost
    }
}
