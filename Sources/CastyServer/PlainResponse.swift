import CastyICY
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
    /// `Connection: close`, and CORS for any origin unless the extra headers set it.
    func write(to buffer: inout ByteBuffer) {
        var headers: [(String, String)] = [("Content-Type", self.contentType), ("Content-Length", String(self.body.utf8.count)), ("Connection", "close")]
        headers += self.extraHeaders.map { ($0.name, $0.value) }
        if !self.extraHeaders.contains(where: { $0.name == "Access-Control-Allow-Origin" }) {
            headers.append(("Access-Control-Allow-Origin", "*"))
        }
        buffer.writeICYResponseHead(
            ICYResponseHead(status: ICYStatusLine(protocolName: "HTTP/1.0", code: self.code, reason: self.reason), headers: HTTPHeaders(headers))
        )
        if !self.headOnly { buffer.writeString(self.body) }
    }
}
