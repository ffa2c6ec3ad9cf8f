/// Capped exponential backoff between reconnect attempts: `initial`, doubling up to `maximum`.
public struct ReconnectBackoff: Sendable {
    /// The first delay.
    public let initial: Duration
    /// The longest delay.
    public let maximum: Duration
    private var current: Duration?

    /// Creates a backoff; `initial` must be positive and no larger than `maximum`.
    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(8)) {
        precondition(initial > .zero && initial <= maximum, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt; each call doubles it, up to `maximum`.
    public mutating func next() -> Duration {
        let delay = self.current.map { min($0 * 2, self.maximum) } ?? self.initial
        self.current = delay
        return delay
    }

    /// Starts over after a success.
    public mutating func reset() {
        self.current = nil
    }
}
