import Atomics

/// What a node counts: its listeners and peers now, and since start the segments it took in and
/// sent, the bytes it wrote, the listeners it dropped, the segments it lost and its reconnects.
///
/// The one place these numbers live: connections and services tell it what happened through its
/// event methods, and both the status report (`/status.json`) and the Prometheus export
/// (`/metrics`) read ``values``. (swift-prometheus' counters cannot be read back, and the status
/// report needs the numbers too, so the export takes them from here at each scrape.)
public final class NodeCounters: Sendable {
    /// The counts at one moment.
    public struct Values: Sendable, Equatable {
        /// Players connected now.
        public var listeners = 0
        /// Child peers and observers connected now.
        public var peers = 0
        /// Segments taken in (from the radio or the parent).
        public var segmentsIn = 0
        /// Segments sent to players and peers (one per listener per segment).
        public var segmentsOut = 0
        /// Bytes written to players and peers.
        public var bytesOut = 0
        /// Listeners (and child peers) dropped for falling too far behind.
        public var droppedSlowListeners = 0
        /// Segments missing between what the parent sent and what this node had (a mirror's loss).
        public var lostSegments = 0
        /// Times this node rejoined the tree (a mirror) or reconnected to the radio (the ingest).
        public var reconnects = 0
    }

    private let listenersNow = ManagedAtomic(0)
    private let peersNow = ManagedAtomic(0)
    private let segmentsIn = ManagedAtomic(0)
    private let segmentsOut = ManagedAtomic(0)
    private let bytesOut = ManagedAtomic(0)
    private let dropped = ManagedAtomic(0)
    private let lost = ManagedAtomic(0)
    private let reconnects = ManagedAtomic(0)

    /// Creates counters at zero.
    public init() {}

    /// Players connected now.
    public var listeners: Int { self.listenersNow.load(ordering: .relaxed) }

    /// Child peers and observers connected now.
    public var peers: Int { self.peersNow.load(ordering: .relaxed) }

    /// Every count now.
    public var values: Values {
        Values(
            listeners: self.listeners,
            peers: self.peers,
            segmentsIn: self.segmentsIn.load(ordering: .relaxed),
            segmentsOut: self.segmentsOut.load(ordering: .relaxed),
            bytesOut: self.bytesOut.load(ordering: .relaxed),
            droppedSlowListeners: self.dropped.load(ordering: .relaxed),
            lostSegments: self.lost.load(ordering: .relaxed),
            reconnects: self.reconnects.load(ordering: .relaxed)
        )
    }

    /// A player joined.
    public func playerJoined() { self.listenersNow.wrappingIncrement(ordering: .relaxed) }

    /// A player left.
    public func playerLeft() { self.listenersNow.wrappingDecrement(ordering: .relaxed) }

    /// A child peer or observer joined.
    public func peerJoined() { self.peersNow.wrappingIncrement(ordering: .relaxed) }

    /// A child peer or observer left.
    public func peerLeft() { self.peersNow.wrappingDecrement(ordering: .relaxed) }

    /// A segment was taken in, after `lost` segments that never came.
    public func segmentTaken(afterLosing lost: Int = 0) {
        self.segmentsIn.wrappingIncrement(ordering: .relaxed)
        if lost > 0 { self.lost.wrappingIncrement(by: lost, ordering: .relaxed) }
    }

    /// `segments` segments of `bytes` bytes in all were written to players and peers.
    public func sent(segments: Int, bytes: Int) {
        guard segments > 0 else { return }
        self.segmentsOut.wrappingIncrement(by: segments, ordering: .relaxed)
        self.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// A listener or child peer was dropped for falling too far behind.
    public func droppedSlowListener() { self.dropped.wrappingIncrement(ordering: .relaxed) }

    /// The node reconnected to its radio or rejoined the tree.
    public func reconnected() { self.reconnects.wrappingIncrement(ordering: .relaxed) }
}
