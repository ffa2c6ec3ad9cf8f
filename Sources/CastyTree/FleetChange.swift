/// What a reloaded fleet file changes in a running fleet, as a pure value: the mirrors added and
/// removed, and whether the secret was rotated. Computed from the file in use and the new one by
/// ``between(_:_:)``, which refuses the changes a running fleet cannot take.
public struct FleetChange: Equatable, Sendable {
    /// The mirrors in the new file and not in the old one, in the new file's order.
    public var added: [FleetFile.Node]
    /// The mirrors in the old file and not in the new one, in the old file's order: they drain.
    public var removed: [FleetFile.Node]
    /// The old secret, when the new file has another one: it stays accepted for the new file's
    /// ``FleetFile/secretGraceTime``.
    public var retiredSecret: String?

    /// Creates a change.
    public init(added: [FleetFile.Node] = [], removed: [FleetFile.Node] = [], retiredSecret: String? = nil) {
        self.added = added
        self.removed = removed
        self.retiredSecret = retiredSecret
    }

    /// Whether the new file changes nothing the fleet acts on (its drain or grace time may still
    /// differ).
    public var isEmpty: Bool { self.added.isEmpty && self.removed.isEmpty && self.retiredSecret == nil }

    /// The change from `old` to `new`, both valid files. Refuses what needs a restart: another
    /// ingest (name, host or port), another upstream or fanout, a mirror whose address changed.
    public static func between(_ old: FleetFile, _ new: FleetFile) throws(FleetFileError) -> FleetChange {
        guard old.ingest == new.ingest else {
            throw FleetFileError(
                message: "the ingest changed from \(Self.describe(old.ingest)) to \(Self.describe(new.ingest)); that needs a restart of the fleet"
            )
        }
        guard old.upstream == new.upstream else {
            throw FleetFileError(message: "\"upstream\" changed from '\(old.upstream)' to '\(new.upstream)'; that needs a restart of the ingest")
        }
        guard old.fanout == new.fanout else {
            throw FleetFileError(message: "\"fanout\" changed from \(old.fanout) to \(new.fanout); that needs a restart of the fleet")
        }
        let oldMirrors = Dictionary(old.mirrors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newMirrors = Dictionary(new.mirrors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for mirror in new.mirrors {
            if let before = oldMirrors[mirror.name], before != mirror {
                throw FleetFileError(
                    message: "mirror '\(mirror.name)' moved from \(Self.describe(before)) to \(Self.describe(mirror)); remove it (reload), then add it under its new address"
                )
            }
        }
        return FleetChange(
            added: new.mirrors.filter { oldMirrors[$0.name] == nil },
            removed: old.mirrors.filter { newMirrors[$0.name] == nil },
            retiredSecret: old.secret == new.secret ? nil : old.secret
        )
    }

    private static func describe(_ node: FleetFile.Node) -> String {
        "'\(node.name)' at \(node.host):\(node.port)"
    }
}
