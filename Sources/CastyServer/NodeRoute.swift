import CastyPeerProtocol

/// What a request to a node asks for, decided from its method and path alone: a pure value, so
/// the routing can be tested without a socket.
enum NodeRoute: Equatable {
    /// A CORS preflight (`OPTIONS`, any path).
    case preflight
    /// `GET /casty/v1/join?…`: a peer or observer joining.
    case peerJoin
    /// `GET /casty/v1/lost?…`: a parent reporting a lost child.
    case lossReport
    /// `GET /casty/v1/leave?…`: a mirror saying it shuts down.
    case leaveNotice
    /// `GET /casty/v1/root?…`: an ingest asking the other one what it is (a standby root).
    case rootQuery
    /// `GET /metrics`: Prometheus text.
    case metrics
    /// `GET` or `HEAD /status`: the status page.
    case statusPage(headOnly: Bool)
    /// `GET` or `HEAD /status.json`.
    case statusJSON(headOnly: Bool)
    /// Any other `GET` or `HEAD` path: the stream (players ask for `/`, `/stream`, `/;` …).
    case stream
    /// Any other method.
    case methodNotAllowed

    /// The route for `method` and a request target (its query, if any, is ignored).
    init(method: String, target: String) {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        switch (method, path) {
        case ("OPTIONS", _): self = .preflight
        case ("GET", PeerProtocol.joinPath): self = .peerJoin
        case ("GET", LossReport.path): self = .lossReport
        case ("GET", LeaveNotice.path): self = .leaveNotice
        case ("GET", PeerProtocol.rootPath): self = .rootQuery
        case ("GET", "/metrics"): self = .metrics
        case ("GET", "/status"), ("HEAD", "/status"): self = .statusPage(headOnly: method == "HEAD")
        case ("GET", "/status.json"), ("HEAD", "/status.json"): self = .statusJSON(headOnly: method == "HEAD")
        case ("GET", _), ("HEAD", _): self = .stream
        default: self = .methodNotAllowed
        }
    }
}
