import CastyMedia
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for a node's control requests (loss reports, the root's polls of its
/// mirrors' `/status.json`): one `GET` per connection, on the event loops the node already runs,
/// with no thread of its own. Plain `http` only; every request has a deadline and the reply's body
/// a size cap. The reply is parsed by SwiftNIO's own HTTP/1 decoder.
public struct ControlClient: Sendable {
    /// Why a request got no reply.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The URL is not `http://host[:port][/target]`.
        case unsupportedURL(String)
        /// No connection could be made (refused, unreachable, unknown host).
        case connectFailed(String)
        /// No complete reply within the timeout.
        case timedOut(after: Duration)
        /// The reply's body is longer than the cap.
        case bodyTooLarge(limit: Int)
        /// The reply is not HTTP/1.x.
        case malformedReply(String)
        /// The connection failed or closed before the reply ended.
        case connectionLost(String)
        /// The task waiting for the reply was cancelled.
        case cancelled

        public var description: String {
            switch self {
            case .unsupportedURL(let url): return "not an http://host[:port]/ URL: \(url)"
            case .connectFailed(let reason): return "cannot connect: \(reason)"
            case .timedOut(let timeout): return "no reply within \(timeout)"
            case .bodyTooLarge(let limit): return "the reply's body is longer than \(limit) bytes"
            case .malformedReply(let reason): return "not an HTTP/1 reply: \(reason)"
            case .connectionLost(let reason): return "the connection ended before the reply did: \(reason)"
            case .cancelled: return "cancelled"
            }
        }
    }

    private let group: any EventLoopGroup
    private let maxBodyBytes: Int
    private let userAgent: String

    /// Creates a client whose connections run on `group` and which refuses bodies longer than
    /// `maxBodyBytes`.
    public init(group: any EventLoopGroup, maxBodyBytes: Int = 1 << 20, userAgent: String = "Casty/\(CastyVersion.number)") {
        precondition(maxBodyBytes >= 0, "the body cap cannot be negative")
        self.group = group
        self.maxBodyBytes = maxBodyBytes
        self.userAgent = userAgent
    }

    /// GETs `url` (`http://host[:port][/target]`; the target is sent as given) and returns the
    /// reply's status and body, whatever the status; within `timeout` from the call, connect
    /// included. Cancelling the calling task ends the request at once (``Failure/cancelled``).
    public func get(_ url: String, timeout: Duration) async throws(Failure) -> (status: Int, body: ByteBuffer) {
        let target = try ControlURL(url)
        guard !Task.isCancelled else { throw .cancelled }
        let loop = self.group.next()
        let exchange = Exchange(loop: loop, timeout: timeout)
        let future = self.start(target, exchange: exchange)
        do {
            return try await withTaskCancellationHandler {
                try await future.get()
            } onCancel: {
                loop.execute { exchange.finish(.failure(.cancelled)) }
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .connectionLost("\(error)")
        }
    }

    /// Connects and sends the request; the future completes once, with the reply or a failure.
    private func start(_ url: ControlURL, exchange: Exchange) -> EventLoopFuture<(status: Int, body: ByteBuffer)> {
        let loop = exchange.loop
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: url.hostHeader)
        headers.add(name: "User-Agent", value: self.userAgent)
        headers.add(name: "Accept", value: "*/*")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.target, headers: headers)
        let maxBodyBytes = self.maxBodyBytes
        loop.execute { exchange.armTimeout() }
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(exchange.timeout) + .milliseconds(100))  // the exchange's own deadline comes first
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    exchange.attach(channel)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        ControlReplyHandler(exchange: exchange, request: head, maxBodyBytes: maxBodyBytes)
                    )
                }
            }
            .connect(host: url.host, port: url.port)
            .whenFailure { error in exchange.finish(.failure(.connectFailed(Self.describe(error, url: url)))) }
        return exchange.promise.futureResult
    }
}

extension ControlClient {
    /// Why a connect failed, in one line: the first attempt's error for an address that refused
    /// or was unreachable, the resolver's for a name that did not resolve.
    fileprivate static func describe(_ error: any Error, url: ControlURL) -> String {
        guard let error = error as? NIOConnectionError else { return "\(url.hostHeader): \(error)" }
        if let failure = error.connectionErrors.first {
            return "\(failure.target): \(failure.error)"
        }
        if let dns = error.dnsAError ?? error.dnsAAAAError {
            return "cannot resolve \(error.host): \(dns)"
        }
        return "\(url.hostHeader): \(error)"
    }
}

/// One request's state: its promise, its deadline, its channel.
///
/// `@unchecked Sendable`: it is used on its event loop only (each method checks it), so its
/// mutable state is never touched from two threads.
private final class Exchange: @unchecked Sendable {
    let loop: any EventLoop
    let timeout: Duration
    let promise: EventLoopPromise<(status: Int, body: ByteBuffer)>
    private var channel: (any Channel)?
    private var deadline: Scheduled<Void>?
    private var done = false

    init(loop: any EventLoop, timeout: Duration) {
        self.loop = loop
        self.timeout = timeout
        self.promise = loop.makePromise()
    }

    /// Starts the deadline.
    func armTimeout() {
        self.loop.preconditionInEventLoop()
        guard !self.done else { return }
        self.deadline = self.loop.scheduleTask(in: TimeAmount(self.timeout)) {
            self.finish(.failure(.timedOut(after: self.timeout)))
        }
    }

    /// The connection being made: closed when the request ends first (a timeout or a
    /// cancellation during the connect).
    func attach(_ channel: any Channel) {
        self.loop.preconditionInEventLoop()
        if self.done {
            channel.close(promise: nil)
        } else {
            self.channel = channel
        }
    }

    /// Completes the request, once: later outcomes (the close this causes, say) are ignored.
    func finish(_ result: Result<(status: Int, body: ByteBuffer), ControlClient.Failure>) {
        self.loop.preconditionInEventLoop()
        guard !self.done else { return }
        self.done = true
        self.deadline?.cancel()
        self.deadline = nil
        self.channel?.close(promise: nil)
        self.channel = nil
        switch result {
        case .success(let reply): self.promise.succeed(reply)
        case .failure(let failure): self.promise.fail(failure)
        }
    }
}

/// Sends the request when the connection is up and collects the reply.
private final class ControlReplyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let exchange: Exchange
    private let request: HTTPRequestHead
    private let maxBodyBytes: Int
    private var status: Int?
    private var body = ByteBuffer()

    init(exchange: Exchange, request: HTTPRequestHead, maxBodyBytes: Int) {
        self.exchange = exchange
        self.request = request
        self.maxBodyBytes = maxBodyBytes
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(.head(self.request)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            // A 1xx is not the reply; NIO's decoder passes it on like any head.
            if (100..<200).contains(head.status.code) { return }
            self.status = Int(head.status.code)
        case .body(var part):
            guard self.status != nil else { return }
            guard self.body.readableBytes + part.readableBytes <= self.maxBodyBytes else {
                self.exchange.finish(.failure(.bodyTooLarge(limit: self.maxBodyBytes)))
                return
            }
            self.body.writeBuffer(&part)
        case .end:
            guard let status = self.status else { return }
            self.exchange.finish(.success((status, self.body)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            self.exchange.finish(.failure(.malformedReply("\(error)")))
        } else {
            self.exchange.finish(.failure(.connectionLost("\(error)")))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.exchange.finish(.failure(.connectionLost(self.status == nil ? "closed without a reply" : "closed mid-reply")))
        context.fireChannelInactive()
    }
}

/// An `http://host[:port][/target]` URL, split for a request.
struct ControlURL: Equatable {
    var host: String
    var port: Int
    /// The request target, as given (`/` when the URL has none).
    var target: String
    /// The `Host` header.
    var hostHeader: String
}

extension ControlURL {
    /// Splits `url`; throws ``ControlClient/Failure/unsupportedURL(_:)`` for anything but
    /// `http://host[:port][/target]`.
    init(_ url: String) throws(ControlClient.Failure) {
        guard let schemeEnd = url.range(of: "://"), url[..<schemeEnd.lowerBound].lowercased() == "http" else {
            throw .unsupportedURL(url)
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authority.isEmpty, !authority.contains("@") else { throw .unsupportedURL(url) }
        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("[") {
            // An IPv6 literal: [address] or [address]:port.
            guard let close = authority.firstIndex(of: "]") else { throw .unsupportedURL(url) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw .unsupportedURL(url) }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
            portText = nil
        }
        guard !host.isEmpty else { throw .unsupportedURL(url) }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy(\.isASCII), let number = Int(portText), (1...65535).contains(number) else {
                throw .unsupportedURL(url)
            }
            port = number
        }
        self.host = String(host)
        self.port = port
        self.target = target
        self.hostHeader = String(authority)
    }
}
