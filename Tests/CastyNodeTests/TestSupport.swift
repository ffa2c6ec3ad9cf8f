import CastyICY
import CastyUpstream
import CastyNode
import CastyPeerProtocol
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// Logs nothing.
let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `service` in a service group while `body` runs, then shuts it down gracefully and returns
/// (or throws) what the group did.
func whileRunning(_ service: some Service, _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(services: [service], logger: quiet)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// An upstream that does nothing by itself: the test reports statuses through it, and hands its
/// sink what the radio sends, as the real source's handler does.
final class FakeUpstream: UpstreamSource {
    struct State {
        var sink: (any RadioSink)?
        var onStatus: (@Sendable (UpstreamPuller.Status) -> Void)?
        var stopped = false
    }

    let state = NIOLockedValueBox(State())

    func start(sink: any RadioSink, onStatus: @escaping @Sendable (UpstreamPuller.Status) -> Void) {
        self.state.withLockedValue {
            $0.sink = sink
            $0.onStatus = onStatus
        }
    }

    func stop() async {
        self.state.withLockedValue { $0.stopped = true }
    }

    var started: Bool { self.state.withLockedValue { $0.onStatus != nil } }
    var stopped: Bool { self.state.withLockedValue { $0.stopped } }

    func report(_ status: UpstreamPuller.Status) {
        self.state.withLockedValue { $0.onStatus }!(status)
    }

    /// The radio answered a connection with `head`.
    func connect(_ head: ICYResponseHead) {
        self.state.withLockedValue { $0.sink }!.connected(head: head)
    }

    /// The radio's next segment.
    func send(_ segment: ICYSegment) {
        self.state.withLockedValue { $0.sink }!.publish(segment)
    }
}

/// Makes fake upstreams and keeps every one it made.
final class FakeUpstreams: Sendable {
    private let made = NIOLockedValueBox<[FakeUpstream]>([])

    var all: [FakeUpstream] { self.made.withLockedValue { $0 } }
    var last: FakeUpstream? { self.all.last }

    @Sendable func make() -> any UpstreamSource {
        let source = FakeUpstream()
        self.made.withLockedValue { $0.append(source) }
        return source
    }
}

/// A parent link that does nothing by itself: the test accepts, sends frames and takes the link
/// down through it. As the real link's handler does, it hands data frames straight to its sink and
/// the other frames to `onControl`.
final class FakeParent: ParentSource {
    struct State {
        var position: (@Sendable () -> ParentLink.Position)?
        var sink: (any ParentSink)?
        var onAccepted: (@Sendable (ParentAcceptance) -> Void)?
        var onControl: (@Sendable (PeerFrame) -> Void)?
        var onDown: (@Sendable (String) -> Void)?
        var relocations = 0
        var stopped = false
    }

    let state = NIOLockedValueBox(State())

    func start(
        position: @escaping @Sendable () -> ParentLink.Position,
        sink: any ParentSink,
        onAccepted: @escaping @Sendable (ParentAcceptance) -> Void,
        onControl: @escaping @Sendable (PeerFrame) -> Void,
        onDown: @escaping @Sendable (String) -> Void
    ) {
        self.state.withLockedValue {
            $0.position = position
            $0.sink = sink
            $0.onAccepted = onAccepted
            $0.onControl = onControl
            $0.onDown = onDown
        }
    }

    func relocate() {
        self.state.withLockedValue { $0.relocations += 1 }
    }

    func stop() async {
        self.state.withLockedValue { $0.stopped = true }
    }

    var started: Bool { self.state.withLockedValue { $0.onAccepted != nil } }
    var stopped: Bool { self.state.withLockedValue { $0.stopped } }
    var relocations: Int { self.state.withLockedValue { $0.relocations } }
    var position: ParentLink.Position { self.state.withLockedValue { $0.position }!() }

    func accept(_ acceptance: ParentAcceptance) {
        self.state.withLockedValue { $0.onAccepted }!(acceptance)
    }

    func send(_ frame: PeerFrame) {
        if case .data(let seq, let segment) = frame {
            self.state.withLockedValue { $0.sink }!.receive(seq: seq, segment: segment)
        } else {
            self.state.withLockedValue { $0.onControl }!(frame)
        }
    }

    func down(_ cause: String) {
        self.state.withLockedValue { $0.onDown }!(cause)
    }
}

/// Keeps every log record, for tests that read what a node says.
final class LogRecorder: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let records = NIOLockedValueBox<[Record]>([])

    var all: [Record] { self.records.withLockedValue { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
            self.recorder.records.withLockedValue { $0.append(Record(level: event.level, message: "\(event.message)", metadata: metadata)) }
        }
    }
}
