import CastyStream

/// The segments one event loop fanned out lately, kept by its ``LoopFanout``: what a player or
/// child peer that missed some (a later batch of players, overtaken by the next segment) catches
/// up from, on its own loop, without asking the hub. Like the hub's ring, it forgets everything
/// when the stream skips numbers (a loss upstream, a new stream identity).
struct RecentSegments {
    private var ring: SegmentRing<StreamHub.Entry>

    /// Keeps about `capacityBytes` of audio (at least one segment).
    init(capacityBytes: Int) {
        self.ring = SegmentRing(capacityBytes: max(capacityBytes, 1))
    }

    /// Adds the segment being fanned out; a gap in the numbers empties the window first.
    mutating func append(_ entry: StreamHub.Entry) {
        if let last = self.ring.lastSeq, entry.seq != last &+ 1 { self.ring.removeAll() }
        self.ring.append(entry)
    }

    /// Forgets everything (a new stream identity).
    mutating func removeAll() {
        self.ring.removeAll()
    }

    /// The newest segment number kept, if any.
    var newestSeq: UInt64? { self.ring.lastSeq }

    /// The catch-up of a connection owed `next` when segment `seq` comes: the kept segments from
    /// `next` up to (not including) `seq`, oldest first. Empty when none are owed or `next` is no
    /// longer kept (the connection goes on from `seq`).
    func catchUp(from next: UInt64?, before seq: UInt64) -> [StreamHub.Entry] {
        guard let next, next < seq, let kept = self.ring.segments(from: next) else { return [] }
        return kept.filter { $0.seq < seq }
    }
}
