import Foundation

/// A mirror telling the root that it is shutting down:
/// `GET /casty/v1/leave?v=3&name=<mirror>&nonce=…&proof=…`, signed like a join (the proof covers
/// the mirror's name and the nonce). The root frees the mirror's place at once, so that it stops
/// sending joiners to a port that is closing. Version 3.
public struct LeaveNotice: Equatable, Sendable {
    /// The path of a leave notice.
    public static let path = "/casty/v1/leave"

    public var version: Int
    /// The mirror that leaves.
    public var name: String
    public var nonce: String
    public var proof: String

    /// Creates a signed notice that mirror `name` leaves.
    public init(name: String, secret: String, now: Date = Date()) {
        let join = JoinRequest(name: name, from: nil, stream: nil, secret: secret, now: now)
        self.version = PeerProtocol.version
        self.name = name
        self.nonce = join.nonce
        self.proof = join.proof
    }

    /// The request target.
    public var target: String {
        "\(Self.path)?v=\(self.version)&name=\(JoinRequest.escape(self.name))&nonce=\(JoinRequest.escape(self.nonce))&proof=\(JoinRequest.escape(self.proof))"
    }

    /// Parses a request target; throws with a message that says what is missing.
    public init(target: String) throws(PeerProtocolError) {
        guard target.hasPrefix(Self.path + "?") else { throw PeerProtocolError("not a leave notice: \(target.prefix(100))") }
        let query = PeerQuery.parse(target.dropFirst(Self.path.count + 1))
        guard let version = query["v"].flatMap({ Int($0) }), let name = query["name"], !name.isEmpty, let nonce = query["nonce"],
            let proof = query["proof"]
        else { throw PeerProtocolError("a leave notice needs v, name, nonce and proof") }
        self.version = version
        self.name = name
        self.nonce = nonce
        self.proof = proof
    }

    /// The notice as a join request, for the same checks of version, proof and nonce.
    public var asJoin: JoinRequest {
        var join = JoinRequest(name: self.name, from: nil, stream: nil, secret: "")
        join.version = self.version
        join.nonce = self.nonce
        join.proof = self.proof
        return join
    }
}
