import CastyICY
import NIOConcurrencyHelpers

@testable import CastyUpstream

/// A hub stand-in: keeps, in order, what a transfer's handler hands it.
final class FakeSink: RadioSink, ParentSink {
    enum Call: Equatable {
        /// A connection's head (its `icy-name`, to tell heads apart).
        case connected(name: String?)
        /// A segment to number (the ingest's way).
        case publish(ICYSegment)
        /// A numbered segment (a mirror's way).
        case receive(seq: UInt64, ICYSegment)
    }

    private let recorded = NIOLockedValueBox<[Call]>([])

    /// Every call so far, in order.
    var calls: [Call] { self.recorded.withLockedValue { $0 } }

    /// The audio of every segment so far, joined.
    var audio: [UInt8] {
        self.calls.flatMap { call -> [UInt8] in
            switch call {
            case .connected: return []
            case .publish(let segment), .receive(_, let segment): return Array(segment.audio.readableBytesView)
            }
        }
    }

    func connected(head: ICYResponseHead) {
        self.recorded.withLockedValue { $0.append(.connected(name: head.headers.first(name: "icy-name"))) }
    }

    func publish(_ segment: ICYSegment) {
        self.recorded.withLockedValue { $0.append(.publish(segment)) }
    }

    func receive(seq: UInt64, segment: ICYSegment) {
        self.recorded.withLockedValue { $0.append(.receive(seq: seq, segment)) }
    }
}
