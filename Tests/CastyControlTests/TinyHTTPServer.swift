import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP server on 127.0.0.1 (a port the system picks) for the control client's tests, built
/// from SwiftNIO's server pipeline: it answers every request as `answer` says.
final class TinyHTTPServer: Sendable {
    /// How the server answers.
    enum Answer: Sendable {
        /// This status and body (with `Content-Length`).
        case reply(status: HTTPResponseStatus, body: String)
        /// An HTTP/1.0 reply whose body ends when the server closes, as Casty's nodes answer.
        case replyUntilClose(status: HTTPResponseStatus, body: String)
        /// Reads the request, then never says a word (a black-holed node).
        case never
        /// Closes the connection on the request.
        case close
        /// Bytes that are not HTTP.
        case garbage
    }

    let channel: any Channel
    let requests = NIOLockedValueBox<[HTTPRequestHead]>([])

    var port: Int { self.channel.localAddress!.port! }
    var url: String { "http://127.0.0.1:\(self.port)" }

    init(group: any EventLoopGroup, answer: Answer) async throws {
        let requests = self.requests
        self.channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if case .garbage = answer {
                        try channel.pipeline.syncOperations.addHandler(GarbageHandler())
                        return
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AnswerHandler(answer: answer, requests: requests))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func close() async throws {
        try await self.channel.close()
    }

    private final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answer: Answer
        let requests: NIOLockedValueBox<[HTTPRequestHead]>

        init(answer: Answer, requests: NIOLockedValueBox<[HTTPRequestHead]>) {
            self.answer = answer
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.requests.withLockedValue { $0.append(head) }
            case .body:
                break
            case .end:
                switch self.answer {
                case .reply(let status, let body):
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: String(body.utf8.count))
                    context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                case .replyUntilClose(let status, let body):
                    let head = HTTPResponseHead(version: .http1_0, status: status, headers: ["Content-Type": "application/json"])
                    context.write(self.wrapOutboundOut(.head(head)), promise: nil)
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
                case .never:
                    break
                case .close:
                    context.close(promise: nil)
                case .garbage:
                    break
                }
            }
        }
    }

    private final class GarbageHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "SSH-2.0-OpenSSH_9.2\r\n\r\n")), promise: nil)
        }
    }
}
