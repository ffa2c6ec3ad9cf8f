import CastyCore
import CastyICY
import CastyPeerProtocol
import Logging
import NIOCore
import NIOHTTP1

/// Answers one client connection: a stream for players (any path), `/status.json`, CORS
/// preflights, and clear errors for anything else. Sits behind `ByteToMessageHandler(ICYRequestDecoder)`.
final class PlayerRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ICYRequestHead
    typealias OutboundOut = ByteBuffer

    /// Response headers that let web players on other origins use the stream.
    static let corsHeaders: [(String, String)] = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", "icy-metaint, icy-name, icy-genre, icy-url, icy-br, icy-description, icy-pub, content-type"),
    ]

    private let hub: StreamHub
    private let directory: PeerDirectory?
    private let info: NodeInfo
    private let requestTimeout: TimeAmount
    private let maxListeners: Int
    private let hooks: PeerHooks
    private let metrics: NodeMetrics
    private let monitor: FleetMonitor?
    private var logger: Logger
    private var timeout: Scheduled<Void>?
    private var answered = false
    private var sink: PlayerSink?
    private var peer: PeerSink?
    private var joinedAt: NIODeadline?

    init(
        hub: StreamHub,
        directory: PeerDirectory?,
        info: NodeInfo,
        requestTimeout: TimeAmount,
        maxListeners: Int,
        hooks: PeerHooks,
        metrics: NodeMetrics,
        monitor: FleetMonitor?,
        logger: Logger
    ) {
        self.metrics = metrics
        self.monitor = monitor
        self.maxListeners = maxListeners
        self.hooks = hooks
        self.hub = hub
        self.directory = directory
        self.info = info
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.logger[metadataKey: "peer.address"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: self.requestTimeout) {
            let (handler, context) = loopBound.value
            guard !handler.answered else { return }
            handler.answered = true
            handler.logger.info("request timed out")
            handler.respond(context: context, PlainResponse(code: 408, body: "no complete request within \(handler.requestTimeout.nanoseconds / 1_000_000) ms\n"))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let head = self.unwrapInboundIn(data)
        guard !self.answered else { return }  // players send nothing after their request
        self.answered = true
        self.timeout?.cancel()
        switch NodeRoute(method: head.method, target: head.target) {
        case .preflight:
            self.respond(context: context, .preflight)
        case .peerJoin:
            self.peerJoin(context: context, head: head)
        case .lossReport:
            self.lossReport(context: context, head: head)
        case .metrics:
            let body = String(decoding: self.metrics.render(hub: self.hub), as: UTF8.self)
            self.respond(context: context, PlainResponse(code: 200, body: body, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case .statusPage(let headOnly):
            self.respond(context: context, PlainResponse(code: 200, body: StatusPage.html, contentType: "text/html; charset=utf-8", headOnly: headOnly))
        case .statusJSON(let headOnly):
            let body = NodeStatus(info: self.info, hub: self.hub, directory: self.directory, monitor: self.monitor).json() + "\n"
            self.respond(context: context, PlainResponse(code: 200, body: body, contentType: "application/json", headOnly: headOnly))
        case .stream:
            self.startStream(context: context, head: head)
        case .methodNotAllowed:
            self.respond(context: context, .methodNotAllowed(head.method))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !self.answered else {
            context.close(promise: nil)
            return
        }
        self.answered = true
        self.timeout?.cancel()
        self.logger.info("bad request", metadata: ["error": "\(error)"])
        if let error = error as? ICYError {
            self.respond(context: context, .refused(error))
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timeout?.cancel()
        if let sink = self.sink {
            self.hub.fanout(for: context.eventLoop).remove(sink)
            self.hub.listeners.wrappingDecrement(ordering: .relaxed)
            let seconds = self.joinedAt.map { (NIODeadline.now() - $0).nanoseconds / 1_000_000_000 } ?? 0
            self.logger.info("listener left", metadata: ["listener.seconds": "\(seconds)"])
            self.sink = nil
        }
        if let peer = self.peer {
            self.hub.fanout(for: context.eventLoop).remove(peer)
            self.peer = nil
            self.hub.peers.wrappingDecrement(ordering: .relaxed)
            self.logger.info("peer left", metadata: ["peer.name": "\(peer.name)"])
            if let directory = self.directory, !peer.observer {
                directory.childLeft(peer.name)
                if !peer.closed { self.childLinkDied(peer.name, directory: directory, loop: context.eventLoop) }
            }
        }
        context.fireChannelInactive()
    }

    private func startStream(context: ChannelHandlerContext, head: ICYRequestHead) {
        guard self.hub.listeners.load(ordering: .relaxed) < self.maxListeners else {
            self.logger.warning("listener refused: node full", metadata: ["listeners.max": "\(self.maxListeners)"])
            self.respond(context: context, PlainResponse(code: 503, body: "this node is full (\(self.maxListeners) listeners); try another\n"))
            return
        }
        let join = self.hub.join()
        // Ogg streams carry their titles in their own comment headers: no ICY metadata in them.
        let metaint = head.wantsMetadata && join.format.carriesICYMetadata ? self.hub.configuration.playerMetaint : nil
        var headers: [(String, String)] = [("Content-Type", join.context.contentType)]
        headers += join.context.headers.filter { $0.name.lowercased() != "content-type" }.map { ($0.name, $0.value) }
        if let metaint { headers.append(("icy-metaint", String(metaint))) }
        headers += [("Cache-Control", "no-cache, no-store"), ("Connection", "close"), ("Server", "Casty/\(CastyVersion.number)")]
        headers += Self.corsHeaders
        // Every client accepts `HTTP/1.0 200 OK`; browsers accept nothing else.
        var buffer = context.channel.allocator.buffer(capacity: 512)
        buffer.writeICYResponseHead(ICYResponseHead(status: .http10OK, headers: HTTPHeaders(headers)))
        context.write(self.wrapOutboundOut(buffer), promise: nil)
        guard head.method == "GET" else {
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: nil)
            context.close(promise: nil)
            return
        }

        let sink = PlayerSink(
            channel: context.channel,
            framer: PlayerFramer(metaint: metaint),
            nextSeq: join.nextSeq,
            format: join.format,
            logger: self.logger
        )
        self.sink = sink
        self.joinedAt = .now()
        self.hub.listeners.wrappingIncrement(ordering: .relaxed)
        self.logger.info(
            "listener joined",
            metadata: ["listener.metadata": "\(metaint != nil)", "listener.agent": "\(head.headers.first(name: "user-agent") ?? "")"]
        )
        // The burst gets playback going at once; it starts where a listener may start (a frame,
        // or an Ogg page after its chain's header pages).
        sink.writeBurst(join.burst, hub: self.hub)
        self.hub.fanout(for: context.eventLoop).add(sink)
    }

    /// A child's link died without a leave. If it has not come back 1.5 s later, the root must
    /// know: it frees the child's place (a dead leaf would otherwise keep it).
    private func childLinkDied(_ name: String, directory: PeerDirectory, loop: EventLoop) {
        let (hub, logger, reportLoss) = (self.hub, self.logger, self.hooks.reportLoss)
        loop.scheduleTask(in: .milliseconds(1500)) {
            guard !directory.place.children.contains(name) else { return }
            logger.notice("child lost", metadata: ["peer.name": "\(name)"])
            if directory.isRoot {
                directory.childLost(name, reporter: directory.name).forEach { hub.broadcast($0) }
            } else {
                reportLoss?(name)
            }
        }
    }

    private func lossReport(context: ChannelHandlerContext, head: ICYRequestHead) {
        guard let directory = self.directory, let report = try? LossReport(target: head.target) else {
            self.respond(context: context, PlainResponse(code: 400, body: "not a loss report this node takes\n"))
            return
        }
        switch directory.childLost(report) {
        case .success(let changes):
            for change in changes {
                self.logger.notice("tree change", metadata: ["tree.change": "\(change)", "peer.reporter": "\(report.reporter)"])
                self.hub.broadcast(change)
            }
            self.respond(context: context, PlainResponse(code: 204, body: ""))
        case .failure(let refusal):
            self.respond(context: context, PlainResponse(code: refusal.code, body: refusal.reason + "\n"))
        }
    }

    private func peerJoin(context: ChannelHandlerContext, head: ICYRequestHead) {
        let request: JoinRequest
        do {
            request = try JoinRequest(target: head.target)
        } catch {
            self.respond(context: context, PlainResponse(code: 400, body: "\(error)\n"))
            return
        }
        guard let directory = self.directory else {
            self.respond(context: context, PlainResponse(code: 404, body: "this node takes no peers\n"))
            return
        }
        let (decision, changes) = directory.decide(request)
        for change in changes {
            self.logger.notice("tree change", metadata: ["tree.change": "\(change)", "peer.name": "\(request.name)"])
            self.hub.broadcast(change)
        }
        switch decision {
        case .refuse(let code, let reason):
            self.logger.warning("join refused", metadata: ["peer.name": "\(request.name)", "reason": "\(reason)"])
            if code == 409 { self.hooks.relocateSelf?() }
            self.respond(context: context, PlainResponse(code: code, body: reason + "\n"))
        case .redirect(let url, let target):
            self.logger.info("join redirected", metadata: ["peer.name": "\(request.name)", "peer.redirect_to": "\(target)"])
            self.respond(context: context, PlainResponse(code: 307, body: "", extraHeaders: [.init(name: "Location", value: url)]))
        case .accept(let depth, let path):
            let wantsFrom = request.stream == self.hub.identity.value ? request.from : nil
            let join = self.hub.peerJoin(from: wantsFrom)
            let version = min(request.version, PeerProtocol.version)
            var headers: [(String, String)] = [
                ("Content-Type", PeerProtocol.contentType),
                (PeerProtocol.versionHeader, String(version)),
                (PeerProtocol.streamHeader, join.identity.value),
                (PeerProtocol.parentHeader, directory.name),
                (PeerProtocol.depthHeader, String(depth)),
                (PeerProtocol.pathHeader, path.joined(separator: ",")),
            ]
            if let next = join.nextSeq { headers.append((PeerProtocol.nextSeqHeader, String(next))) }
            if join.metadata.readableBytes > 0 {
                headers.append((PeerProtocol.metadataHeader, PeerProtocol.percentEncode(join.metadata.readableBytesView)))
            }
            headers += join.context.headers.map { ($0.name, $0.value) }
            headers += [("Cache-Control", "no-cache, no-store"), ("Connection", "close")]
            var buffer = context.channel.allocator.buffer(capacity: 512)
            buffer.writeICYResponseHead(ICYResponseHead(status: .http10OK, headers: HTTPHeaders(headers)))
            context.write(self.wrapOutboundOut(buffer), promise: nil)
            let peer = PeerSink(
                channel: context.channel,
                name: request.name,
                observer: request.observer,
                version: version,
                nextSeq: join.nextSeq,
                logger: self.logger
            )
            self.peer = peer
            self.hub.peers.wrappingIncrement(ordering: .relaxed)
            self.logger.info(
                request.observer ? "observer joined" : "peer joined",
                metadata: ["peer.name": "\(request.name)", "peer.from": "\(join.nextSeq.map(String.init) ?? "newest")"]
            )
            if version >= 2, let pages = join.codecHeaders {
                peer.send(.codecHeaders(pages))
            }
            peer.catchUp(join.entries, hub: self.hub)
            self.hub.fanout(for: context.eventLoop).add(peer, hub: self.hub)
        }
    }

    private func respond(context: ChannelHandlerContext, _ response: PlainResponse) {
        var buffer = context.channel.allocator.buffer(capacity: 256 + response.body.utf8.count)
        response.write(to: &buffer)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}
