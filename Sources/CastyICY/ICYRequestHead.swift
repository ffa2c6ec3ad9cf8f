import NIOHTTP1

/// The head of a request to an ICY server: request line and headers.
public struct ICYRequestHead: Equatable, Sendable {
    /// The method, such as `GET`, exactly as sent.
    public var method: String
    /// The request target, such as `/` or `/stream`.
    public var target: String
    /// The protocol version, such as `HTTP/1.0`.
    public var version: String
    /// The headers in the order they were sent; look-ups ignore case.
    public var headers: HTTPHeaders

    /// Creates a request head.
    public init(method: String = "GET", target: String, version: String = "HTTP/1.0", headers: HTTPHeaders = [:]) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The request a player sends for a feed: `GET <feed> HTTP/1.0` with `Host`, `User-Agent`
    /// and `Icy-MetaData: 1`.
    public static func player(host: String, feed: String = "/", userAgent: String) -> ICYRequestHead {
        ICYRequestHead(
            target: feed,
            headers: HTTPHeaders([("Host", host), ("User-Agent", userAgent), ("Icy-MetaData", "1")])
        )
    }

    /// Whether the client asked for metadata blocks (`Icy-MetaData: 1`).
    public var wantsMetadata: Bool {
        self.headers.first(name: "icy-metadata")?.trimmingASCIISpaces() == "1"
    }
}

extension String {
    func trimmingASCIISpaces() -> Substring {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return view
    }
}
