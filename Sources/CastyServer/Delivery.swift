/// What was written to players and peers, to be added to the hub's counters in one go.
struct Delivery {
    var bytes = 0
    var segments = 0

    static func += (sum: inout Delivery, more: Delivery) {
        sum.bytes += more.bytes
        sum.segments += more.segments
    }

    /// Adds the sums to the hub's counters.
    func count(in hub: StreamHub) {
        hub.counters.sent(segments: self.segments, bytes: self.bytes)
    }
}
