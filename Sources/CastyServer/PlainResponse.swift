import CastyICY
import CastyTree
import NIOCore
import NIOHTTP1

/// A complete, short answer to a request (an error, a redirect, a status document), after which
/// the node closes the connection. A pure value: ``write(to:)`` gives its exact bytes.
struct PlainResponse: Equatable {
    var code: Int
    var body: String
    var contentType = "text/plain; charset=utf-8"
    var extraHeaders: [Header] = []
    /// For `HEAD`: the headers of the `GET` answer, without its body.
    var headOnly = false

    /// One response header (a struct, so that the response can be `Equatable`).
    struct Header: Equatable {
        var name: String
        var value: String
    }

    /// The reason phrase for the codes a node answers with.
    var reason: String {
        [
            200: "OK", 204: "No Content", 307: "Temporary Redirect", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
            426: "Upgrade Required", 431: "Request Header Fields Too Large", 503: "Service Unavailable",
        ][self.code] ?? "Error"
    }

    /// The answer to a CORS preflight: any origin may play the stream and read its `icy-*` headers.
    static let preflight = PlainResponse(
        code: 204,
        body: "",
        extraHeaders: [
            Header(name: "Access-Control-Allow-Origin", value: "*"),
            Header(name: "Access-Control-Allow-Methods", value: "GET, HEAD, OPTIONS"),
            Header(name: "Access-Control-Allow-Headers", value: "Icy-MetaData, Range, Content-Type"),
            Header(name: "Access-Control-Max-Age", value: "86400"),
        ]
    )

    /// The answer to a method other than GET, HEAD and OPTIONS.
    static func methodNotAllowed(_ method: String) -> PlainResponse {
        PlainResponse(code: 405, body: "method \(method) is not allowed; use GET\n", extraHeaders: [Header(name: "Allow", value: "GET, HEAD, OPTIONS")])
    }

    /// The answer to a request the decoder refused: 431 when it was too large, else 400.
    static func refused(_ error: ICYError) -> PlainResponse {
        let tooLarge = error.kind == .headTooLong || error.kind == .headerLineTooLong
        return PlainResponse(code: tooLarge ? 431 : 400, body: "\(error)\n")
    }

    /// The head and (unless `headOnly`) the body, as sent: `HTTP/1.0`, a `Content-Length`,
    /// `Connection: close`, and CORS for any origin unless the extra headers set it (the head is
    /// ``ReplyHead/plain(code:reason:contentType:contentLength:extraHeaders:)``'s).
    func write(to buffer: inout ByteBuffer) {
        ReplyHead.plain(
            code: self.code,
            reason: self.reason,
            contentType: self.contentType,
            contentLength: self.body.utf8.count,
            extraHeaders: self.extraHeaders.map { ($0.name, $0.value) }
        ).write(to: &buffer)
        if !self.headOnly { buffer.writeString(self.body) }
    }

    // MARK: Answers to peers

    /// The status code that answers a refused join or loss report (see docs/PROTOCOL.md): `426`
    /// for another protocol version, `503` while this node is not in the tree or the root takes
    /// too many joins, `409` for an ancestor, `404` for a loss report at a mirror, `403` for
    /// everything else.
    static func statusCode(of refusal: JoinPolicy.Refusal) -> Int {
        switch refusal {
        case .unsupportedVersion: 426
        case .notInTree, .draining, .busy: 503
        case .ancestor: 409
        case .notRoot: 404
        case .badProof, .nonceTooLong, .staleNonce, .replayedNonce, .notAMirror, .coordinator: 403
        }
    }

    /// The answer to a refused join or loss report at node `node`: its code and reason.
    /// A busy root says when to come back in `Retry-After` (whole seconds, at least 1).
    static func refusal(_ refusal: JoinPolicy.Refusal, node: String) -> PlainResponse {
        var headers: [Header] = []
        if case .busy(let milliseconds) = refusal {
            headers.append(Header(name: "Retry-After", value: String(max(1, (milliseconds + 999) / 1000))))
        }
        return PlainResponse(code: Self.statusCode(of: refusal), body: refusal.reason(node: node) + "\n", extraHeaders: headers)
    }

    /// A join sent on to another node: `307` to `url`, which libcurl follows by itself.
    static func redirect(to url: String) -> PlainResponse {
        PlainResponse(code: 307, body: "", extraHeaders: [Header(name: "Location", value: url)])
    }

    /// A redirect to a node the fleet file has no address for.
    static func noAddress(for node: String) -> PlainResponse {
        PlainResponse(code: 500, body: "no address for node \(node)\n")
    }

    /// Writes the answer on the handler's context and closes the connection once it is sent.
    func answer(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 256 + self.body.utf8.count)
        self.write(to: &buffer)
        let channel = context.channel
        context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}
