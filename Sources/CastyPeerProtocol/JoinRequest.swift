import Crypto
import Foundation

/// `request`: a node asking to join another as its child, sent as
/// `GET /casty/v1/join?v=1&name=…&from=…&stream=…&lost=…&nonce=…&proof=…`.
///
/// `proof` is HMAC-SHA256 over `casty/1|name|nonce` keyed with the fleet's secret, in lowercase
/// hex: it shows the joiner knows the secret without sending it. `nonce` is
/// `<unix milliseconds>-<random hex>`; a receiver refuses a nonce it has seen or one whose time is
/// more than a minute off, so a captured join cannot be replayed.
public struct JoinRequest: Equatable, Sendable {
    /// The protocol version the joiner speaks.
    public var version: Int
    /// The joiner's name in the fleet file.
    public var name: String
    /// The first segment number the joiner wants; `nil` for "from the newest".
    public var from: UInt64?
    /// The stream identity the joiner has been following, if any.
    public var stream: String?
    /// The joiner's former parent, when it rejoins because that parent failed.
    public var lost: String?
    /// An observer (a load or test client) takes no child slot, is never redirected, and need
    /// not be in the fleet file; it still proves the secret.
    public var observer: Bool
    /// The highest root term the joiner has seen (a fleet with a standby root); `nil` when it
    /// sends none, and then gets no `term` frames.
    public var term: UInt64?
    /// Unique per join.
    public var nonce: String
    /// HMAC proof of the secret.
    public var proof: String

    /// Creates a signed join request.
    public init(name: String, from: UInt64?, stream: String?, lost: String? = nil, observer: Bool = false, term: UInt64? = nil, secret: String, now: Date = Date()) {
        self.version = PeerProtocol.version
        self.observer = observer
        self.term = term
        self.name = name
        self.from = from
        self.stream = stream
        self.lost = lost
        var generator = SystemRandomNumberGenerator()
        self.nonce = "\(Int64(now.timeIntervalSince1970 * 1000))-\(String(generator.next() as UInt64, radix: 16))"
        self.proof = Self.proof(secret: secret, name: name, nonce: self.nonce)
    }

    /// The proof for `name` and `nonce` under `secret`.
    public static func proof(secret: String, name: String, nonce: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("casty/1|\(name)|\(nonce)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// The request target: path and query.
    public var target: String {
        var items = [("v", String(self.version)), ("name", self.name)]
        if let from = self.from { items.append(("from", String(from))) }
        if let stream = self.stream { items.append(("stream", stream)) }
        if let lost = self.lost { items.append(("lost", lost)) }
        if self.observer { items.append(("observer", "1")) }
        if let term = self.term { items.append(("term", String(term))) }
        items += [("nonce", self.nonce), ("proof", self.proof)]
        return PeerProtocol.joinPath + "?" + items.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    /// Parses a request target; throws with a message that says what is missing or wrong.
    public init(target: String) throws(PeerProtocolError) {
        let parts = target.split(separator: "?", maxSplits: 1)
        guard parts.first.map(String.init) == PeerProtocol.joinPath else { throw PeerProtocolError("not a join path: \(target.prefix(100))") }
        let query = PeerQuery.parse(parts.count == 2 ? parts[1] : "")
        guard let versionText = query["v"], let version = Int(versionText) else { throw PeerProtocolError("join without protocol version 'v'") }
        guard let name = query["name"], !name.isEmpty else { throw PeerProtocolError("join without 'name'") }
        guard let nonce = query["nonce"], let proof = query["proof"] else { throw PeerProtocolError("join without 'nonce' and 'proof'") }
        var from: UInt64?
        if let text = query["from"] {
            guard let value = UInt64(text) else { throw PeerProtocolError("'from' is not a segment number: \(text.prefix(30))") }
            from = value
        }
        self.version = version
        self.name = name
        self.from = from
        self.stream = query["stream"]
        self.lost = query["lost"]
        self.observer = query["observer"] == "1"
        if let text = query["term"] {
            guard let value = UInt64(text) else { throw PeerProtocolError("'term' is not a term number: \(text.prefix(30))") }
            self.term = value
        }
        self.nonce = nonce
        self.proof = proof
    }

    /// Whether `proof` matches `secret` (compared in constant time).
    public func hasValidProof(secret: String) -> Bool {
        let expected = Array(Self.proof(secret: secret, name: self.name, nonce: self.nonce).utf8)
        let given = Array(self.proof.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The time in the nonce, in Unix milliseconds, if it has one.
    public var nonceTime: Int64? {
        self.nonce.split(separator: "-").first.flatMap { Int64($0) }
    }

    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }
}
