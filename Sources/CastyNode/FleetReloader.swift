import CastyControl
import CastyPeerProtocol
import CastyServer
import CastyTree
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Live membership: re-reads the fleet file on SIGHUP and applies what changed (see
/// ``CastyServer/PeerDirectory/reload(_:now:)``); a file that cannot be read, parsed or taken
/// while the fleet runs is refused with its reason in the log, and the one in use stays. At the
/// root, the tree changes of a removed mirror are announced to the whole tree.
///
/// A mirror that learns it was removed (from its own reload, or from a `drain` tree change)
/// drains: new players and children are refused, its children are told to rejoin through the
/// root, and once its players are gone (or the file's `drainSeconds` passed) it returns, which
/// shuts the node down.
public struct FleetReloader: Service {
    /// Reads a fleet file (``FleetFile/load(path:)`` outside tests).
    public typealias Load = @Sendable (String) throws(FleetFileError) -> FleetFile

    let path: String
    let directory: PeerDirectory
    let hub: StreamHub
    let monitor: FleetMonitor?
    let logger: Logger
    let load: Load
    let pollInterval: Duration

    /// Creates the reloader of the node whose fleet file is at `path`.
    public init(
        path: String, directory: PeerDirectory, hub: StreamHub, monitor: FleetMonitor?, logger: Logger,
        pollInterval: Duration = .milliseconds(200), load: @escaping Load = { path throws(FleetFileError) in try FleetFile.load(path: path) }
    ) {
        self.path = path
        self.directory = directory
        self.hub = hub
        self.monitor = monitor
        self.logger = logger
        self.pollInterval = pollInterval
        self.load = load
    }

    /// Reloads on every SIGHUP; at a mirror, drains once removed, then returns. Ends on graceful
    /// shutdown.
    public func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { self.reload() }
                }
                await self.drainWhenRemoved()
                group.cancelAll()
            }
        }
    }

    /// Reads the file and applies it, or logs why not. Returns whether it was taken.
    @discardableResult
    public func reload(now: Date = Date()) -> Bool {
        let reload: PeerDirectory.Reload
        do throws(FleetFileError) {
            reload = try self.directory.reload(try self.load(self.path), now: now)
        } catch {
            self.logger.error("fleet file refused; the fleet keeps the one in use", metadata: ["fleet.path": "\(self.path)", "reason": "\(error.message)"])
            return false
        }
        let change = reload.change
        self.logger.notice(
            "fleet file reloaded",
            metadata: [
                "fleet.path": "\(self.path)",
                "fleet.added": "\(change.added.map(\.name).joined(separator: ","))",
                "fleet.removed": "\(change.removed.map(\.name).joined(separator: ","))",
                "fleet.secret": "\(change.retiredSecret == nil ? "unchanged" : "rotated; the old one is accepted for \(self.directory.fleet.secretGraceTime) s")",
            ]
        )
        self.monitor?.update(fleet: self.directory.fleet)
        for treeChange in reload.treeChanges {
            self.logger.notice("tree change", metadata: ["tree.change": "\(treeChange)", "cause": "fleet file reloaded"])
            self.hub.broadcast(treeChange)
        }
        return true
    }

    /// Waits until this node drains, then drains it: returns once its players and children are
    /// gone or the drain time passed; never returns at the root or before a drain (until
    /// cancelled).
    func drainWhenRemoved() async {
        while !self.directory.isDraining {
            do { try await Task.sleep(for: self.pollInterval) } catch { return }
        }
        let seconds = self.directory.fleet.drainTime
        let children = self.directory.place.children
        self.logger.notice(
            "draining: this mirror was removed from the fleet; it takes no new players or children and leaves when its players are gone",
            metadata: ["drain.seconds": "\(seconds)", "drain.children": "\(children.joined(separator: ","))", "listeners": "\(self.hub.counters.listeners)"]
        )
        // The root told them already when it removed this node; a node that learnt it from its own
        // file first tells them itself. A second relocate is harmless: it reaches a closed link.
        for child in children { self.hub.broadcast(.relocate(node: child)) }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if self.hub.counters.listeners == 0 && self.directory.place.children.isEmpty { break }
            do { try await Task.sleep(for: self.pollInterval) } catch { return }
        }
        self.logger.notice(
            "drained: leaving the fleet",
            metadata: ["listeners": "\(self.hub.counters.listeners)", "drain.timed_out": "\(ContinuousClock.now >= deadline)"]
        )
    }
}
