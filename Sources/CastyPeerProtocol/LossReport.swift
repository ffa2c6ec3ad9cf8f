import Foundation

/// A parent telling the root that a child's link died without a `leave`:
/// `GET /casty/v1/lost?v=1&name=<reporter>&child=<child>&nonce=…&proof=…`, signed like a join
/// (the proof covers the reporter's name and the nonce). The root acts on it only if the child is
/// the reporter's child in its own tree.
public struct LossReport: Equatable, Sendable {
    /// The path of a loss report.
    public static let path = "/casty/v1/lost"

    public var version: Int
    public var reporter: String
    public var child: String
    public var nonce: String
    public var proof: String

    /// Creates a signed report.
    public init(reporter: String, child: String, secret: String) {
        let join = JoinRequest(name: reporter, from: nil, stream: nil, secret: secret)
        self.version = PeerProtocol.version
        self.reporter = reporter
        self.child = child
        self.nonce = join.nonce
        self.proof = join.proof
    }

    /// The request target.
    public var target: String {
        "\(Self.path)?v=\(self.version)&name=\(JoinRequest.escape(self.reporter))&child=\(JoinRequest.escape(self.child))&nonce=\(JoinRequest.escape(self.nonce))&proof=\(JoinRequest.escape(self.proof))"
    }

    /// Parses a request target.
    public init(target: String) throws(PeerProtocolError) {
        guard target.hasPrefix(Self.path + "?") else { throw PeerProtocolError("not a loss report: \(target.prefix(100))") }
        let query = PeerQuery.parse(target.dropFirst(Self.path.count + 1))
        guard let version = query["v"].flatMap({ Int($0) }), let reporter = query["name"], let child = query["child"],
            let nonce = query["nonce"], let proof = query["proof"]
        else { throw PeerProtocolError("a loss report needs v, name, child, nonce and proof") }
        self.version = version
        self.reporter = reporter
        self.child = child
        self.nonce = nonce
        self.proof = proof
    }

    /// The report as a join request, for the same checks of version, proof and nonce.
    public var asJoin: JoinRequest {
        var join = JoinRequest(name: self.reporter, from: nil, stream: nil, secret: "")
        join.version = self.version
        join.nonce = self.nonce
        join.proof = self.proof
        return join
    }
}
