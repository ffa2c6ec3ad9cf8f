/// What one dummy client saw: segment numbers (as a peer observer) or bytes and blocks (as a player).
struct DummyTally: Sendable {
    var connected = false
    var first: UInt64?
    var last: UInt64?
    var received = 0
    var gaps = 0
    var missing: UInt64 = 0
    var repeats = 0
    var audioBytes = 0
    var metadataBlocks = 0
    var error: String?

    /// Records segment `seq`: the next one is `last + 1`; anything else is a gap or a repeat.
    mutating func record(seq: UInt64) {
        defer { self.received += 1 }
        guard let last = self.last else {
            self.first = seq
            self.last = seq
            return
        }
        if seq <= last {
            self.repeats += 1
        } else {
            if seq > last + 1 {
                self.gaps += 1
                self.missing += seq - last - 1
            }
            self.last = seq
        }
    }

    /// Segments from the first to the last one seen.
    var expected: UInt64 { self.first.flatMap { first in self.last.map { $0 - first + 1 } } ?? 0 }
}
