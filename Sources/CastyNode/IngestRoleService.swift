import CastyPeerProtocol
import CastyServer
import CastyStream
import CastyTree
import CastyUpstream
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs one of the two ingests of a fleet with a standby root (see docs/PROTOCOL.md, *Standby
/// root and terms*): carries out the actions of its ``CastyTree/IngestRole`` (kept in a
/// ``CastyServer/RootElection`` that the connections share).
///
/// It pulls the radio all the time, straight into its hub, as any ingest. While it follows the
/// root, it feeds the hub from a link to the root (as an observer, like a mirror's
/// ``ParentLinkService``), and the hub only keeps its own radio's newest audio
/// (``CastyServer/StreamHub/standBy(resettingStream:)``); once root, it tells the hub to take
/// over: its own radio's segments are numbered from where the old root stopped, spliced onto what
/// that root sent (``CastyStream/TakeoverSplicer``). Nothing of this service sits on a segment's
/// way. It asks the other ingest what it is at start and every second, and ticks the role every
/// 100 ms, telling it first when the last segment from the root arrived.
public struct IngestRoleService: Service {
    /// What the service needs from outside, so that tests can fake the transports.
    public struct Transports: Sendable {
        /// Makes the radio's source (once).
        public var makeSource: @Sendable () -> any UpstreamSource
        /// Makes a link that joins `rootURL` as an observer, sending the term `term` gives.
        public var makeLink: @Sendable (_ rootURL: String, _ term: @escaping @Sendable () -> UInt64?) -> any ParentSource
        /// Asks the ingest at `baseURL` what it is.
        public var probe: @Sendable (_ baseURL: String) async -> IngestRole.Answer
        /// Reads the tree (mirror → parent) of the root at `baseURL` (its `/status.json`).
        public var fetchTree: @Sendable (_ baseURL: String) async -> [String: String]?

        /// Creates the transports.
        public init(
            makeSource: @escaping @Sendable () -> any UpstreamSource,
            makeLink: @escaping @Sendable (String, @escaping @Sendable () -> UInt64?) -> any ParentSource,
            probe: @escaping @Sendable (String) async -> IngestRole.Answer,
            fetchTree: @escaping @Sendable (String) async -> [String: String]? = { _ in nil }
        ) {
            self.makeSource = makeSource
            self.makeLink = makeLink
            self.probe = probe
            self.fetchTree = fetchTree
        }
    }

    /// What the link's callbacks and the role's actions share.
    struct Shared: Sendable {
        var link: (any ParentSource)?
        /// Bumped at every new link: callbacks of an older one are ignored.
        var linkGeneration = 0
        /// The tree of the root followed, as last read, to adopt at a takeover.
        var rootTree: (root: String, tree: [String: String])?
    }

    let fleet: FleetFile
    let hub: StreamHub
    let directory: PeerDirectory
    let election: RootElection
    let transports: Transports
    let tickInterval: Duration
    let probeInterval: Duration
    let logger: Logger
    let shared = NIOLockedValueBox(Shared())

    /// Creates the service of the ingest whose directory is `directory` (which holds the
    /// election).
    public init(
        fleet: FleetFile,
        hub: StreamHub,
        directory: PeerDirectory,
        transports: Transports,
        tickInterval: Duration = .milliseconds(100),
        probeInterval: Duration = .seconds(1),
        logger: Logger
    ) {
        guard let election = directory.election else { preconditionFailure("an ingest role service needs an election") }
        self.fleet = fleet
        self.hub = hub
        self.directory = directory
        self.election = election
        self.transports = transports
        self.tickInterval = tickInterval
        self.probeInterval = probeInterval
        self.logger = logger
    }

    /// The base URL (`http://host:port`) of node `name`, from the fleet file.
    func baseURL(of name: String) -> String? {
        guard let node = try? self.fleet.node(named: name) else { return nil }
        let host = node.host.contains(":") && !node.host.hasPrefix("[") ? "[\(node.host)]" : node.host
        return "http://\(host):\(node.port)"
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        // The hub keeps the radio aside until the role says take over.
        self.hub.standBy()
        let source = self.transports.makeSource()
        source.start(sink: self.hub) { status in
            if case .refused(let message) = status {
                self.logger.error("the radio is not a stream Casty can relay", metadata: ["reason": "\(message)"])
            }
            self.hub.setRadioState(UpstreamState(status))
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // A `verify` is asked aside, in a child task (cancelled at shutdown), so that a
                // frozen node's silence holds up no other action.
                await withTaskGroup(of: Void.self) { asides in
                    for await action in self.election.actions {
                        if case .verify(let name) = action {
                            asides.addTask { await self.verify(name) }
                        } else {
                            await self.carryOut(action)
                        }
                    }
                    asides.cancelAll()
                }
            }
            group.addTask { await self.ticks() }
            group.addTask { await self.probes() }
            self.election.update { $0.start() }
            try? await gracefulShutdown()
            self.election.finish()
            group.cancelAll()
        }
        await self.stopLink()
        await source.stop()
    }

    /// Ticks the role every ``tickInterval`` (never held up by a question to a frozen node).
    private func ticks() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: self.tickInterval)
            self.updateRole { $0.tick(now: .now) }
        }
    }

    /// Asks the other ingest what it is every ``probeInterval``, and, while following, reads the
    /// root's tree.
    private func probes() async {
        let other = self.election.read(\.other)
        while !Task.isCancelled {
            try? await Task.sleep(for: self.probeInterval)
            let answer = await self.probe(other)
            self.updateRole { $0.probed(answer, now: .now) }
            await self.readRootTree()
        }
    }

    /// While following, reads the root's tree, to adopt it at a takeover.
    private func readRootTree() async {
        guard case .following(let claim) = self.election.read(\.state), let url = self.baseURL(of: claim.root),
            let tree = await self.transports.fetchTree(url)
        else { return }
        let changed = self.shared.withLockedValue { shared in
            defer { shared.rootTree = (claim.root, tree) }
            return shared.rootTree?.root != claim.root || shared.rootTree?.tree != tree
        }
        if changed {
            self.logger.info("read the root's tree, to adopt at a takeover", metadata: ["root.name": "\(claim.root)", "tree.size": "\(tree.count)"])
        }
    }

    /// Asks `name` what it is, for the role's `verify`.
    private func verify(_ name: String) async {
        let answer = await self.probe(name)
        self.updateRole { $0.probed(answer, now: .now) }
    }

    private func probe(_ name: String) async -> IngestRole.Answer {
        guard let url = self.baseURL(of: name) else { return .unreachable }
        return await self.transports.probe(url)
    }

    // MARK: Actions

    func carryOut(_ action: IngestRole.Action) async {
        switch action {
        case .none:
            break
        case .verify(let name):
            await self.verify(name)
        case .follow(let claim):
            self.logger.notice("following the root", metadata: ["root.name": "\(claim.root)", "root.term": "\(claim.term)"])
            self.directory.stepDown()  // a primary that starts as a follower has no tree
            await self.follow(claim)
        case .stepDown(let claim):
            self.logger.warning("a root of a higher term exists: stepping down", metadata: ["root.name": "\(claim.root)", "root.term": "\(claim.term)"])
            self.directory.stepDown()
            self.hub.leavePeers(reason: "this root stepped down for \(claim.root), term \(claim.term); rejoin through the root")
            // What it numbered since the takeover is not the fleet's stream: resync from the new
            // root's newest segment (its players carry on with the new root's audio).
            await self.follow(claim, resettingStream: true)
        case .becomeRoot(let term, let nextSeq):
            await self.stopLink()
            let adopted = self.shared.withLockedValue { $0.rootTree }
            self.directory.becomeRoot(adopting: adopted?.tree ?? [:], from: adopted?.root)
            let outcome = self.hub.takeOver()
            self.logger.notice(
                "became the root",
                metadata: ["root.term": "\(term)", "tree.adopted": "\(adopted?.tree.count ?? 0)", "stream.next_seq": "\(nextSeq.map(String.init) ?? "new stream")", "splice": "\(nextSeq == nil ? "none (a new stream)" : outcome.map { "\($0)" } ?? "pending")"]
            )
        case .raiseTerm(let term):
            self.logger.notice("staying the root in a higher term", metadata: ["root.term": "\(term)"])
            self.hub.announce(TermRule.Claim(term: term, root: self.election.read(\.name)))
        }
    }

    /// Ends any link, and starts one to `claim`'s root; the hub starts a fresh splice (and, with
    /// `resettingStream`, drops what it numbered as root).
    private func follow(_ claim: TermRule.Claim, resettingStream: Bool = false) async {
        await self.stopLink()
        self.hub.standBy(resettingStream: resettingStream)
        guard let url = self.baseURL(of: claim.root) else {
            self.logger.error("no address for the root in the fleet file", metadata: ["root.name": "\(claim.root)"])
            return
        }
        let election = self.election
        let link = self.transports.makeLink(url) { election.read(\.terms.term) }
        let generation = self.shared.withLockedValue { shared -> Int in
            shared.link = link
            shared.linkGeneration += 1
            return shared.linkGeneration
        }
        let service = ParentLinkService(link: link, hub: self.hub, directory: self.directory)
        link.start(
            position: { service.position() },
            sink: self.hub,
            onAccepted: { acceptance in
                guard self.current(generation) else { return }
                service.accepted(acceptance)
                let term = acceptance.head.headers.first(name: "Casty-Term").flatMap { UInt64($0) } ?? claim.term
                self.updateRole { $0.linkAccepted(TermRule.Claim(term: term, root: acceptance.parent), nextSeq: acceptance.nextSeq, now: .now) }
            },
            onControl: { frame in
                guard self.current(generation) else { return }
                switch frame {
                case .heartbeat:
                    service.received(frame)
                    self.updateRole {
                        $0.received(seq: nil, now: .now)
                        return .none
                    }
                case .tree:
                    break  // an observer has no place in the tree
                default:
                    service.received(frame)
                }
            },
            onDown: { cause in
                guard self.current(generation) else { return }
                self.hub.setUpstreamState(.rejoining(cause))
                self.updateRole {
                    $0.linkDown(now: .now)
                    return .none
                }
            }
        )
    }

    /// Changes the role with `body`, after telling it when the newest segment from the root
    /// arrived (the hub notes it as it takes the segment; taking it is lock-free): so the role's
    /// silence clock counts from the exact arrival, and no arrival reaches it after a later link
    /// change or tick.
    private func updateRole(_ body: (inout IngestRole) -> IngestRole.Action) {
        self.election.update { role in
            if let arrival = self.hub.takeArrival() { role.received(seq: arrival.seq, now: arrival.at) }
            return body(&role)
        }
    }

    /// Whether link `generation` is the current one and this ingest follows (not root).
    private func current(_ generation: Int) -> Bool {
        self.shared.withLockedValue { $0.linkGeneration == generation && $0.link != nil } && !self.election.read(\.isRoot)
    }

    private func stopLink() async {
        let link = self.shared.withLockedValue { shared -> (any ParentSource)? in
            defer {
                shared.link = nil
                shared.linkGeneration += 1
            }
            return shared.link
        }
        await link?.stop()
    }
}
