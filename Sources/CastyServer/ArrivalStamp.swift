import Atomics

/// When the newest segment from the root arrived at a fleet's ingest that follows it, and its
/// number: noted by the hub as it takes the segment, taken by the ingest's role service just
/// before every change of the role (a tick, a heartbeat, the link's acceptance or failure), so
/// that the role's silence clock counts from the exact arrival. Lock-free, so that the service
/// takes it while holding the role's lock without calling into another lock's owner.
final class ArrivalStamp: Sendable {
    private let base = ContinuousClock.now
    /// Nanoseconds from `base` to the arrival, plus one; 0 when none is pending.
    private let nanoseconds = ManagedAtomic<UInt64>(0)
    private let seq = ManagedAtomic<UInt64>(0)

    /// Segment `seq` arrived now.
    func note(seq: UInt64) {
        let elapsed = (ContinuousClock.now - self.base).components
        let nanoseconds = UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
        self.seq.store(seq, ordering: .relaxed)
        self.nanoseconds.store(nanoseconds + 1, ordering: .releasing)
    }

    /// The arrival noted since the last call, if any (its number may be a newer arrival's, noted
    /// meanwhile, which the next call tells again).
    func take() -> (seq: UInt64, at: ContinuousClock.Instant)? {
        let stamp = self.nanoseconds.exchange(0, ordering: .acquiring)
        guard stamp > 0 else { return nil }
        return (self.seq.load(ordering: .relaxed), self.base + .nanoseconds(stamp - 1))
    }

    /// Forgets a pending arrival (a new link, or the takeover).
    func clear() {
        self.nanoseconds.store(0, ordering: .relaxed)
    }
}
