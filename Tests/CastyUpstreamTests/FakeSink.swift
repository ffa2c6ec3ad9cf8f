import CastyICY
import NIOConcurrencyHelpers

@testable import CastyUpstream

/// A hub stand-in: keeps, in order, what a transfer's handler hands it.
final class FakeSink: RadioSink {
    enum Call: Equatable {
        /// A connection's head (its `icy-name`, to tell heads apart).
        case connected(name: String?)
        /// A segment to number (the ingest's way).
        case publish(ICYSegment)
    }

    private let recorded = NIOLockedValueBox<[Call]>([])

    /// Every call so far, in order.
    var calls: [Call] { self.recorded.withLockedValue { $0 } }

    /// The audio of every segment so far, joined.
    var audio: [UInt8] {
        self.calls.flatMap { call -> [UInt8] in
            switch call {
            case .connected: return []
            case .publish(let segment): return Array(segment.audio.readableBytesView)
            }
        }
    }

    func connected(head: ICYResponseHead) {
        self.recorded.withLockedValue { $0.append(.connected(name: head.headers.first(name: "icy-name"))) }
    }

    func publish(_ segment: ICYSegment) {
        self.recorded.withLockedValue { $0.append(.publish(segment)) }
    }
}
