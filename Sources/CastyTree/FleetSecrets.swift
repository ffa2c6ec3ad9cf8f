import Foundation

/// The secrets a node accepts in join proofs and loss reports: the fleet file's current one, and
/// the ones a reload replaced, each until its grace period ends. A node signs with the current one.
///
/// Pure value: the caller passes the time.
public struct FleetSecrets: Equatable, Sendable {
    /// A replaced secret and when it stops being accepted.
    public struct Retired: Equatable, Sendable {
        public var secret: String
        public var until: Date
    }

    /// The fleet file's secret: what this node signs with, and always accepted.
    public private(set) var current: String
    /// Replaced secrets, oldest first; expired ones are dropped on the next rotation.
    public private(set) var retired: [Retired] = []

    /// Accepts only `current`.
    public init(current: String) {
        self.current = current
    }

    /// The fleet file now says `secret`: the old current one stays accepted for `grace` seconds
    /// from `now`. Does nothing when `secret` is the current one.
    public mutating func rotate(to secret: String, now: Date, grace: TimeInterval) {
        guard secret != self.current else { return }
        self.retired.removeAll { $0.until <= now || $0.secret == secret || $0.secret == self.current }
        if grace > 0 { self.retired.append(Retired(secret: self.current, until: now.addingTimeInterval(grace))) }
        self.current = secret
    }

    /// The secrets accepted at `now`, the current one first.
    public func accepted(at now: Date) -> [String] {
        [self.current] + self.retired.filter { $0.until > now }.map(\.secret)
    }
}
