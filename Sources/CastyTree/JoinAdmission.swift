/// The root's guard against a storm of joins (many mirrors failing at once, their children all
/// rejoining): admits joins at `rate` per second on average, with bursts of up to `burst`, and
/// tells the others how long until a join would be admitted. A single failure, or a few at once,
/// stays within the burst and is never slowed; a storm is spread out at the root's door, and the
/// refused joiners come back after their backoff, which is jittered (``ReconnectBackoff``), so they
/// do not return together either.
///
/// The generic cell rate algorithm: a pure value, with the time passed in (seconds on any clock
/// that does not jump; the caller's).
public struct JoinAdmission: Sendable, Equatable {
    /// What to do with one join.
    public enum Verdict: Equatable, Sendable {
        /// Let it in.
        case admit
        /// Refuse it: a join would be admitted again after this many seconds.
        case retry(afterSeconds: Double)
    }

    /// The joins admitted per second, on average, once a burst is spent.
    public let rate: Double
    /// The joins admitted at once, from rest.
    public let burst: Int
    /// When the next join would be admitted if joins came exactly at `rate` (the "theoretical
    /// arrival time"); `nil` at rest.
    private var nextArrival: Double?

    /// The root's defaults: 1000 joins per second, bursts of 200. Ten times the joins of a 31-mirror
    /// fleet whose every mirror rejoins at once stay within the burst.
    public static let rootDefault = JoinAdmission(rate: 1000, burst: 200)

    /// Creates an admission of `rate` joins per second (more than 0) with bursts of `burst` (at
    /// least 1).
    public init(rate: Double, burst: Int) {
        precondition(rate > 0 && burst >= 1, "an admission needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
    }

    /// Decides on a join arriving at `now`.
    public mutating func admit(at now: Double) -> Verdict {
        let interval = 1 / self.rate
        // A nanosecond of slack, so that rounding never refuses a join that is exactly on time.
        let tolerance = interval * Double(self.burst - 1) + 1e-9
        var arrival = max(self.nextArrival ?? now, now)
        // A clock that went back (or a value from far away): start again at rest rather than
        // refusing everyone for that long.
        if arrival - now > tolerance + interval * 2 { arrival = now }
        if arrival - now > tolerance {
            self.nextArrival = arrival
            return .retry(afterSeconds: arrival - now - tolerance)
        }
        self.nextArrival = arrival + interval
        return .admit
    }
}
