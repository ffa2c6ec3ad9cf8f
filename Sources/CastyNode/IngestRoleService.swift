import CastyICY
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
/// It pulls the radio all the time. While it follows the root, it feeds its hub from a link to
/// the root (as an observer, like a mirror's ``ParentLinkService``) and only keeps its own
/// radio's newest audio; once root, it numbers its own radio's segments from where the old root
/// stopped, spliced onto what that root sent (``CastyStream/TakeoverSplicer``). It asks the other
/// ingest what it is at start and every second, and ticks the role every 100 ms.
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

    /// What the radio's callbacks and the link's share.
    struct Shared: Sendable {
        var splicer = TakeoverSplicer()
        /// The own radio's context at its last connection.
        var ownContext: StreamContext?
        /// The own radio's last status.
        var ownStatus: UpstreamState = .connecting
        var link: (any ParentSource)?
        /// Bumped at every new link: frames of an older one are ignored.
        var linkGeneration = 0
        /// The tree of the root followed, as last read, to adopt at a takeover.
        var rootTree: (root: String, tree: [String: String])?
        /// What the own radio's path and the takeover decided to hand the hub, in order, not yet
        /// handed (see ``toHub(_:)``).
        var outbox: [HubCall] = []
        /// Whether a thread is handing the outbox to the hub now.
        var handing = false
    }

    /// A call to the hub that the own radio's path or the takeover decided under the lock.
    enum HubCall: Sendable {
        /// The stream's context, if the hub has none yet.
        case contextIfUnset(StreamContext)
        /// The stream's context.
        case context(StreamContext)
        case segment(ICYSegment)
        case state(UpstreamState)
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
        let source = self.transports.makeSource()
        source.start(sink: OwnRadio(role: self)) { self.ownStatus($0) }
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
            self.election.update { $0.tick(now: .now) }
        }
    }

    /// Asks the other ingest what it is every ``probeInterval``, and, while following, reads the
    /// root's tree.
    private func probes() async {
        let other = self.election.read(\.other)
        while !Task.isCancelled {
            try? await Task.sleep(for: self.probeInterval)
            let answer = await self.probe(other)
            self.election.update { $0.probed(answer, now: .now) }
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
        self.election.update { $0.probed(answer, now: .now) }
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
            self.hub.resetStream(identity: StreamIdentity(value: "none"), nextSeq: nil)
            await self.follow(claim)
        case .becomeRoot(let term, let nextSeq):
            await self.stopLink()
            let adopted = self.shared.withLockedValue { $0.rootTree }
            self.directory.becomeRoot(adopting: adopted?.tree ?? [:], from: adopted?.root)
            let outcome = self.toHub { shared, calls -> ReconnectSplicer.Outcome? in
                if let context = shared.ownContext { calls.append(.contextIfUnset(context)) }
                calls += shared.splicer.takeOver().map { .segment($0) }
                calls.append(.state(shared.ownStatus))
                return shared.splicer.lastOutcome
            }
            self.logger.notice(
                "became the root",
                metadata: ["root.term": "\(term)", "tree.adopted": "\(adopted?.tree.count ?? 0)", "stream.next_seq": "\(nextSeq.map(String.init) ?? "new stream")", "splice": "\(nextSeq == nil ? "none (a new stream)" : outcome.map { "\($0)" } ?? "pending")"]
            )
        case .raiseTerm(let term):
            self.logger.notice("staying the root in a higher term", metadata: ["root.term": "\(term)"])
            self.hub.announce(TermRule.Claim(term: term, root: self.election.read(\.name)))
        }
    }

    /// Ends any link, and starts one to `claim`'s root.
    private func follow(_ claim: TermRule.Claim) async {
        await self.stopLink()
        guard let url = self.baseURL(of: claim.root) else {
            self.logger.error("no address for the root in the fleet file", metadata: ["root.name": "\(claim.root)"])
            return
        }
        let election = self.election
        let link = self.transports.makeLink(url) { election.read(\.terms.term) }
        let generation = self.shared.withLockedValue { shared -> Int in
            shared.splicer = TakeoverSplicer()
            shared.link = link
            shared.linkGeneration += 1
            return shared.linkGeneration
        }
        let service = ParentLinkService(link: link, hub: self.hub, directory: self.directory)
        link.start(
            position: { service.position() },
            sink: FollowedRoot(role: self, generation: generation),
            onAccepted: { acceptance in
                guard self.current(generation) else { return }
                service.accepted(acceptance)
                let term = acceptance.head.headers.first(name: "Casty-Term").flatMap { UInt64($0) } ?? claim.term
                self.election.update { $0.linkAccepted(TermRule.Claim(term: term, root: acceptance.parent), nextSeq: acceptance.nextSeq, now: .now) }
            },
            onControl: { frame in
                guard self.current(generation) else { return }
                switch frame {
                case .heartbeat:
                    service.received(frame)
                    self.election.update {
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
                self.election.update {
                    $0.linkDown(now: .now)
                    return .none
                }
            }
        )
    }

    /// The root's segments, while this ingest follows it through link `generation`: into the hub
    /// with the root's numbers, kept by the takeover splicer, and heard by the role.
    struct FollowedRoot: ParentSink {
        let role: IngestRoleService
        let generation: Int

        func receive(seq: UInt64, segment: ICYSegment) {
            guard self.role.current(self.generation) else { return }
            self.role.hub.receive(seq: seq, segment: segment)
            self.role.shared.withLockedValue { $0.splicer.followed(segment) }
            self.role.election.update {
                $0.received(seq: seq, now: .now)
                return .none
            }
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

    // MARK: The own radio

    private func ownStatus(_ status: UpstreamPuller.Status) {
        let state: UpstreamState
        switch status {
        case .connecting: state = .connecting
        case .connected: state = .connected
        case .retrying(let delay, let cause): state = .retrying(after: delay, cause: cause)
        case .stopped: state = .stopped
        case .refused(let message):
            self.logger.error("the radio is not a stream Casty can relay", metadata: ["reason": "\(message)"])
            state = .refused(message)
        }
        self.toHub { shared, calls in
            shared.ownStatus = state
            if shared.splicer.tookOver { calls.append(.state(state)) }
        }
    }

    /// The own radio's segments and heads: kept by the takeover splicer, and, once root, handed
    /// to the hub spliced onto the old root's.
    struct OwnRadio: RadioSink {
        let role: IngestRoleService

        func connected(head: ICYResponseHead) {
            let context = StreamContext(upstream: head)
            self.role.toHub { shared, calls in
                shared.ownContext = context
                if shared.splicer.tookOver { calls.append(.context(context)) }
            }
        }

        func publish(_ segment: ICYSegment) {
            let decided = self.role.toHub { shared, calls -> ReconnectSplicer.Outcome? in
                let pending = shared.splicer.tookOver && shared.splicer.lastOutcome == nil
                calls += shared.splicer.own(segment).map { .segment($0) }
                return pending ? shared.splicer.lastOutcome : nil
            }
            // A takeover's splice decided after the takeover (the own radio was behind the root).
            switch decided {
            case .spliced(let repeated)?: self.role.logger.notice("takeover spliced", metadata: ["splice.repeated_bytes": "\(repeated)"])
            case .noOverlap?: self.role.logger.warning("takeover: the own radio's audio does not continue the old root's; some audio is lost")
            case nil: break
            }
        }
    }

    // MARK: To the hub

    /// Runs `decide` under the lock of what the radio's callbacks and the link's share, and
    /// hands the hub the calls it decided, in order, with that lock released: the hub is never
    /// called with it held. Calls decided on two threads at once (the own radio's and the
    /// takeover's) still reach the hub in the order they were decided: whichever thread finds
    /// the outbox not being handed hands it until it is empty.
    @discardableResult
    private func toHub<Result>(_ decide: (inout Shared, inout [HubCall]) -> Result) -> Result {
        let (result, hands) = self.shared.withLockedValue { shared -> (Result, Bool) in
            var calls: [HubCall] = []
            let result = decide(&shared, &calls)
            shared.outbox += calls
            guard !shared.handing, !shared.outbox.isEmpty else { return (result, false) }
            shared.handing = true
            return (result, true)
        }
        guard hands else { return result }
        while let calls = self.shared.withLockedValue({ shared -> [HubCall]? in
            guard !shared.outbox.isEmpty else {
                shared.handing = false
                return nil
            }
            defer { shared.outbox = [] }
            return shared.outbox
        }) {
            for call in calls {
                switch call {
                case .contextIfUnset(let context) where self.hub.context.headers.isEmpty: self.hub.setContext(context, checkBytes: true)
                case .contextIfUnset: break
                case .context(let context): self.hub.setContext(context, checkBytes: true)
                case .segment(let segment): self.hub.publish(segment)
                case .state(let state): self.hub.setUpstreamState(state)
                }
            }
        }
        return result
    }
}
