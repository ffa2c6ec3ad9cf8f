import CastyICY
import CastyPeerProtocol
import CastyTree
import Foundation
import Logging
import NIOCore

/// The first handler after the request decoder (`ByteToMessageHandler(ICYRequestDecoder)`): reads
/// the request head, decides its ``NodeRoute``, and either answers it (CORS preflight, status
/// page, `/status.json`, metrics, a loss report, errors, `408` when no request comes in time) or
/// hands the connection over: a stream request to a ``PlayerConnectionHandler``, a join to a
/// ``PeerConnectionHandler``, which take its place in the pipeline.
final class ConnectionRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ICYRequestHead
    typealias OutboundOut = ByteBuffer

    private let services: ConnectionServices
    private var logger: Logger
    private var timeout: Scheduled<Void>?
    private var answered = false

    init(services: ConnectionServices, logger: Logger) {
        self.services = services
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.logger[metadataKey: "peer.address"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let requestTimeout = self.services.requestTimeout
        self.timeout = context.eventLoop.scheduleTask(in: requestTimeout) {
            let (handler, context) = loopBound.value
            guard !handler.answered else { return }
            handler.answered = true
            handler.logger.info("request timed out")
            PlainResponse(code: 408, body: "no complete request within \(requestTimeout.nanoseconds / 1_000_000) ms\n").answer(context: context)
            // A client stalled in its TLS handshake never gets the 408 (it waits for the
            // handshake), nor one that does not read: the connection closes a second later anyway.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let head = self.unwrapInboundIn(data)
        guard !self.answered else { return }  // clients send nothing after their request
        self.answered = true
        self.timeout?.cancel()
        let services = self.services
        switch NodeRoute(method: head.method, target: head.target) {
        case .preflight:
            PlainResponse.preflight.answer(context: context)
        case .peerJoin:
            self.handOver(context: context, head: data, to: PeerConnectionHandler(hub: services.hub, directory: services.directory, hooks: services.hooks, logger: self.logger))
        case .lossReport:
            self.lossReport(head).answer(context: context)
        case .leaveNotice:
            self.leaveNotice(head).answer(context: context)
        case .rootQuery:
            self.rootQuery(head).answer(context: context)
        case .metrics:
            let body = String(decoding: services.metrics.render(hub: services.hub), as: UTF8.self)
            PlainResponse(code: 200, body: body, contentType: "text/plain; version=0.0.4; charset=utf-8").answer(context: context)
        case .statusPage(let headOnly):
            PlainResponse(code: 200, body: StatusPage.html, contentType: "text/html; charset=utf-8", headOnly: headOnly).answer(context: context)
        case .statusJSON(let headOnly):
            let body = NodeStatus(info: services.info, hub: services.hub, directory: services.directory, fleetNodes: services.fleetNodes).json() + "\n"
            PlainResponse(code: 200, body: body, contentType: "application/json", headOnly: headOnly).answer(context: context)
        case .stream:
            self.handOver(context: context, head: data, to: PlayerConnectionHandler(hub: services.hub, directory: services.directory, maxListeners: services.maxListeners, logger: self.logger))
        case .methodNotAllowed:
            PlainResponse.methodNotAllowed(head.method).answer(context: context)
        }
    }

    /// Puts `handler` in the pipeline, gives it the request head, and leaves: the connection is
    /// the handler's from now on (so are any later bytes or decoding errors).
    private func handOver(context: ChannelHandlerContext, head: NIOAny, to handler: some ChannelInboundHandler) {
        do {
            try context.pipeline.syncOperations.addHandler(handler)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(head)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Answers a loss report: acted on at the root (`204`), refused anywhere else.
    private func lossReport(_ head: ICYRequestHead) -> PlainResponse {
        guard let directory = self.services.directory, let report = try? LossReport(target: head.target) else {
            return PlainResponse(code: 400, body: "not a loss report this node takes\n")
        }
        switch directory.childLost(report) {
        case .success(let changes):
            for change in changes {
                self.logger.notice("tree change", metadata: ["tree.change": "\(change)", "peer.reporter": "\(report.reporter)"])
                self.services.hub.broadcast(change)
            }
            return PlainResponse(code: 204, body: "")
        case .failure(let refusal):
            return .refusal(refusal, node: directory.name)
        }
    }

    /// Answers a leave notice: acted on at the root (`204`), refused anywhere else.
    private func leaveNotice(_ head: ICYRequestHead) -> PlainResponse {
        guard let directory = self.services.directory, let notice = try? LeaveNotice(target: head.target) else {
            return PlainResponse(code: 400, body: "not a leave notice this node takes\n")
        }
        switch directory.left(notice) {
        case .success(let changes):
            self.logger.info("mirror left", metadata: ["peer.name": "\(notice.name)"])
            for change in changes {
                self.logger.notice("tree change", metadata: ["tree.change": "\(change)", "peer.name": "\(notice.name)"])
                self.services.hub.broadcast(change)
            }
            return PlainResponse(code: 204, body: "")
        case .failure(let refusal):
            return .refusal(refusal, node: directory.name)
        }
    }

    /// Answers `GET /casty/v1/root`: at an ingest of a fleet with a standby, what it is.
    private func rootQuery(_ head: ICYRequestHead) -> PlainResponse {
        guard let directory = self.services.directory, let election = directory.election else {
            return PlainResponse(code: 404, body: "this node is not an ingest of a fleet with a standby\n")
        }
        let query = head.target.dropFirst(PeerProtocol.rootPath.count)
        guard let request = try? JoinRequest(target: PeerProtocol.joinPath + query) else {
            return PlainResponse(code: 400, body: "a root query needs v, name, nonce and proof\n")
        }
        if let refusal = JoinPolicy.verify(request, secret: directory.secret, now: Date()) {
            return .refusal(refusal, node: directory.name)
        }
        return PlainResponse(code: 200, body: election.answer.line + "\n")
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
            PlainResponse.refused(error).answer(context: context)
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timeout?.cancel()
        context.fireChannelInactive()
    }
}
