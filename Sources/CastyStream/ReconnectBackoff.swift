/// Capped exponential backoff between reconnect attempts: `initial`, doubling up to `maximum`,
/// optionally jittered so that many clients refused at the same moment do not all come back at
/// the same moment either.
public struct ReconnectBackoff: Sendable {
    /// The first delay.
    public let initial: Duration
    /// The longest delay.
    public let maximum: Duration
    /// The share of each delay that is random (0 … 1): a delay `d` becomes a uniformly random
    /// one between `d × (1 − jitter)` and `d`. 0, the default, keeps the delays exact.
    public let jitter: Double
    private var current: Duration?

    /// Creates a backoff; `initial` must be positive and no larger than `maximum`, `jitter`
    /// between 0 and 1.
    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(8), jitter: Double = 0) {
        precondition(initial > .zero && initial <= maximum, "backoff needs 0 < initial <= maximum")
        precondition((0...1).contains(jitter), "backoff jitter must be between 0 and 1")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before the next attempt; each call doubles it, up to `maximum`, and jitters it.
    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.next(using: &generator)
    }

    /// ``next()`` with the randomness of `generator`.
    public mutating func next<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        let delay = self.current.map { min($0 * 2, self.maximum) } ?? self.initial
        self.current = delay
        guard self.jitter > 0 else { return delay }
        return delay * (1 - self.jitter * Double.random(in: 0..<1, using: &generator))
    }

    /// Starts over after a success.
    public mutating func reset() {
        self.current = nil
    }
}
