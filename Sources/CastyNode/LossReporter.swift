import CastyPeerProtocol
import CastyServer
import Logging

/// What a mirror tells the root when the tree needs it: a child whose link died (a signed
/// ``CastyPeerProtocol/LossReport``), its own shutdown (a signed ``CastyPeerProtocol/LeaveNotice``),
/// and, for its own stale place, a rejoin through the root.
///
/// The request is injected: `request` GETs a URL and returns the HTTP status (`nil` when there
/// was none), so tests need no network.
public struct LossReporter: Sendable {
    /// GETs a URL; returns the HTTP status, or `nil` when no answer came.
    public typealias Request = @Sendable (_ url: String) async -> Int?

    /// The reporting mirror's name.
    public let name: String
    /// The fleet's secret, which signs reports (read at each report: a reload may rotate it).
    public var secret: String { self.currentSecret() }
    let currentSecret: @Sendable () -> String
    /// The root's base URL, `http://host:port`.
    public let rootURL: String
    let request: Request
    let logger: Logger

    /// Creates the reporter of mirror `name`, reporting to the root at `rootURL`.
    public init(name: String, secret: String, rootURL: String, logger: Logger, request: @escaping Request) {
        self.init(name: name, secret: { secret }, rootURL: rootURL, logger: logger, request: request)
    }

    /// Creates the reporter of mirror `name`, signing with what `secret` returns at each report.
    public init(name: String, secret: @escaping @Sendable () -> String, rootURL: String, logger: Logger, request: @escaping Request) {
        self.name = name
        self.currentSecret = secret
        self.rootURL = rootURL
        self.logger = logger
        self.request = request
    }

    /// The URL of a freshly signed report that `child` was lost.
    public func reportURL(lostChild child: String) -> String {
        self.rootURL + LossReport(reporter: self.name, child: child, secret: self.secret).target
    }

    /// Tells the root that `child`'s link died; logs and returns the root's HTTP status (`nil`:
    /// no answer).
    @discardableResult
    public func report(lostChild child: String) async -> Int? {
        let status = await self.request(self.reportURL(lostChild: child))
        self.logger.info("reported a lost child to the root", metadata: ["peer.name": "\(child)", "http.status": "\(status.map(String.init) ?? "none")"])
        return status
    }

    /// The URL of a freshly signed notice that this mirror leaves.
    public func leaveURL() -> String {
        self.rootURL + LeaveNotice(name: self.name, secret: self.secret).target
    }

    /// Tells the root that this mirror shuts down, so that it sends no more joiners here; logs
    /// and returns the root's HTTP status (`nil`: no answer).
    @discardableResult
    public func announceLeave() async -> Int? {
        let status = await self.request(self.leaveURL())
        self.logger.info("told the root this mirror leaves", metadata: ["http.status": "\(status.map(String.init) ?? "none")"])
        return status
    }

    /// The server's hooks of a mirror whose parent link is `parent`: a stale place makes
    /// `parent` rejoin through the root. (Lost children are reported by the
    /// ``TreeRepairService``.)
    public func hooks(relocating parent: any ParentSource) -> PeerHooks {
        PeerHooks(relocateSelf: { parent.relocate() })
    }
}
