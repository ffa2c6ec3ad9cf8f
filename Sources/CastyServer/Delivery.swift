/// What was written to players and peers: a plain sum, which whoever wrote adds to the node's
/// counters in one go (``NodeCounters/sent(segments:bytes:)``).
struct Delivery {
    var bytes = 0
    var segments = 0

    static func += (sum: inout Delivery, more: Delivery) {
        sum.bytes += more.bytes
        sum.segments += more.segments
    }
}
