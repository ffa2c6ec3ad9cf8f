import NIOConcurrencyHelpers

/// An ingest's ``CastyTree/IngestRole`` in a fleet with a standby root, behind a lock: shared by
/// the connections (which ask it whether to serve a join, and answer `GET /casty/v1/root`) and
/// the service that runs the role. Every action the role returns goes to ``actions``, whose one
/// reader (the service) carries them out in order.
public final class RootElection: Sendable {
    private let role: NIOLockedValueBox<IngestRole>
    /// The role's actions, in the order they were decided (never `.none`).
    public let actions: AsyncStream<IngestRole.Action>
    private let continuation: AsyncStream<IngestRole.Action>.Continuation

    /// Creates the election of an ingest whose role starts as `role`.
    public init(role: IngestRole) {
        self.role = NIOLockedValueBox(role)
        (self.actions, self.continuation) = AsyncStream.makeStream(of: IngestRole.Action.self)
    }

    /// Changes the role with `body`; its action, unless `.none`, goes to ``actions``.
    public func update(_ body: (inout IngestRole) -> IngestRole.Action) {
        let action = self.role.withLockedValue { body(&$0) }
        if action != .none { self.continuation.yield(action) }
    }

    /// Reads the role.
    public func read<T>(_ body: (IngestRole) -> T) -> T {
        self.role.withLockedValue { body($0) }
    }

    /// What this ingest answers when asked what it is.
    public var answer: IngestRole.Answer { self.read(\.answer) }

    /// A mirror's join arrived with `term`: whether to serve it (the check of a higher term it
    /// may start goes to ``actions``).
    public func join(term: UInt64?) -> IngestRole.JoinAnswer {
        let (answer, action) = self.role.withLockedValue { $0.join(term: term) }
        if action != .none { self.continuation.yield(action) }
        return answer
    }

    /// Ends ``actions`` (the node stops).
    public func finish() {
        self.continuation.finish()
    }
}
