import Foundation

/// `fleet.json`: the one description of a fleet: the upstream radio, the tree's fanout, the shared
/// secret, the ingest and the mirrors.
public struct FleetFile: Codable, Equatable, Sendable {
    /// One node's name and address.
    public struct Node: Codable, Equatable, Sendable {
        public var name: String
        public var host: String
        public var port: Int
        /// The node's certificate and key, when its port speaks https too.
        public var tls: TLS?

        public init(name: String, host: String, port: Int, tls: TLS? = nil) {
            self.name = name
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    /// A node's certificate and key files (PEM, as an ACME client writes them: `fullchain.pem`,
    /// `privkey.pem`), and how its port speaks it: `"auto"` (the default and, while the nodes'
    /// own links are plain http, the only mode a fleet takes), http and https on the same port.
    public struct TLS: Codable, Equatable, Sendable {
        public var cert: String
        public var key: String
        public var mode: String?

        public init(cert: String, key: String, mode: String? = nil) {
            self.cert = cert
            self.key = key
            self.mode = mode
        }
    }

    /// The radio's stream URL.
    public var upstream: String
    /// Child peers per node (2 gives a binary tree).
    public var fanout: Int
    /// The secret nodes prove they know when they join.
    public var secret: String
    /// The root.
    public var ingest: Node
    /// Every mirror.
    public var mirrors: [Node]
    /// Optional: how long a mirror removed from the file (on a reload) may keep its players
    /// before it leaves; ``defaultDrainSeconds`` when absent.
    public var drainSeconds: Int?
    /// Optional: how long the old `secret` is still accepted after a reload changed it;
    /// ``defaultSecretGraceSeconds`` when absent.
    public var secretGraceSeconds: Int?

    /// How long a removed mirror drains when the file does not say.
    public static let defaultDrainSeconds = 30
    /// How long an old secret stays accepted when the file does not say.
    public static let defaultSecretGraceSeconds = 300

    /// The standby root, a second ingest that takes over when the root dies (optional).
    public var standby: Node?

    public init(
        upstream: String, fanout: Int = 2, secret: String, ingest: Node, mirrors: [Node], standby: Node? = nil,
        drainSeconds: Int? = nil, secretGraceSeconds: Int? = nil
    ) {
        self.upstream = upstream
        self.fanout = fanout
        self.secret = secret
        self.ingest = ingest
        self.mirrors = mirrors
        self.standby = standby
        self.drainSeconds = drainSeconds
        self.secretGraceSeconds = secretGraceSeconds
    }

    /// How long a removed mirror drains, in seconds.
    public var drainTime: Int { self.drainSeconds ?? Self.defaultDrainSeconds }
    /// How long an old secret stays accepted after a rotation, in seconds.
    public var secretGraceTime: Int { self.secretGraceSeconds ?? Self.defaultSecretGraceSeconds }

    /// Every node, the ingest first (then the standby, if any).
    public var nodes: [Node] { [self.ingest] + (self.standby.map { [$0] } ?? []) + self.mirrors }

    /// The node called `name`.
    public func node(named name: String) throws(FleetFileError) -> Node {
        guard let node = self.nodes.first(where: { $0.name == name }) else {
            throw FleetFileError(message: "no node named '\(name)' in the fleet file; its nodes are \(self.nodes.map(\.name).joined(separator: ", "))")
        }
        return node
    }

    /// Reads and checks a fleet file.
    public static func load(path: String) throws(FleetFileError) -> FleetFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FleetFileError(message: "cannot read fleet file '\(path)': \(error.localizedDescription)")
        }
        do {
            return try Self.parse(data)
        } catch {
            throw FleetFileError(message: "fleet file '\(path)': \(error.message)")
        }
    }

    /// Parses and checks fleet JSON.
    public static func parse(_ data: Data) throws(FleetFileError) -> FleetFile {
        let fleet: FleetFile
        do {
            fleet = try JSONDecoder().decode(FleetFile.self, from: data)
        } catch let error as DecodingError {
            throw FleetFileError(message: Self.explain(error))
        } catch {
            throw FleetFileError(message: "not valid JSON: \(error)")
        }
        try fleet.validate()
        return fleet
    }

    /// Checks what JSON decoding cannot: names, ports, URL, fanout.
    public func validate() throws(FleetFileError) {
        guard self.fanout >= 1 && self.fanout <= 64 else {
            throw FleetFileError(message: "\"fanout\" must be between 1 and 64, not \(self.fanout)")
        }
        guard !self.secret.isEmpty else { throw FleetFileError(message: "\"secret\" must not be empty") }
        for (key, value) in [("drainSeconds", self.drainSeconds), ("secretGraceSeconds", self.secretGraceSeconds)] {
            if let value, !(0...86_400).contains(value) {
                throw FleetFileError(message: "\"\(key)\" must be between 0 and 86400 seconds, not \(value)")
            }
        }
        guard let scheme = self.upstream.split(separator: ":").first?.lowercased(), scheme == "http" || scheme == "https" else {
            throw FleetFileError(message: "\"upstream\" must be an http:// or https:// URL, not '\(self.upstream)'")
        }
        var names = Set<String>()
        var addresses = Set<String>()
        for node in self.nodes {
            guard !node.name.isEmpty, node.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw FleetFileError(message: "node name '\(node.name)' must be letters, digits, '-', '_' or '.'")
            }
            guard names.insert(node.name).inserted else {
                throw FleetFileError(message: "two nodes are named '\(node.name)'")
            }
            guard (1...65535).contains(node.port) else {
                throw FleetFileError(message: "node '\(node.name)' has port \(node.port); ports are 1 to 65535")
            }
            guard addresses.insert("\(node.host):\(node.port)").inserted else {
                throw FleetFileError(message: "node '\(node.name)' uses \(node.host):\(node.port), which another node uses too")
            }
            if let tls = node.tls {
                guard !tls.cert.isEmpty, !tls.key.isEmpty else {
                    throw FleetFileError(message: "node '\(node.name)': \"tls\" needs both \"cert\" and \"key\" (paths of PEM files)")
                }
                guard tls.mode == nil || tls.mode == "auto" else {
                    // Peer links are plain http for now: an https-only node would refuse its
                    // children's joins and the root's status polls.
                    throw FleetFileError(message: "node '\(node.name)': \"tls.mode\" must be \"auto\" (http and https on one port) in a fleet, not '\(tls.mode!)': the nodes' own links are plain http")
                }
            }
        }
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the top level" : String(keys.dropFirst(keys.hasPrefix(".") ? 1 : 0))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let place = path(context)
            return "missing key \"\(key.stringValue)\"" + (place == "the top level" ? "" : " in \(place)")
        case .typeMismatch(let type, let context):
            return "\(path(context)) has the wrong type: expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context)) is null: expected \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A fleet file that cannot be used, and why.
public struct FleetFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the problem.
    public var message: String
    public var description: String { self.message }

    /// An error saying `message`.
    public init(message: String) {
        self.message = message
    }
}
