/// When an on-demand ingest pulls its radio: from the moment someone listens until `idle` after
/// the last listener left. A pure value, ticked with what the node sees and the time.
public struct OnDemandPolicy: Sendable, Equatable {
    /// What the ingest should do after a tick.
    public enum Action: Sendable, Equatable {
        /// Start pulling the radio.
        case connect
        /// Stop pulling the radio.
        case disconnect
        /// Carry on as before.
        case none
    }

    /// How long nobody may listen before the radio is dropped.
    public let idle: Duration
    /// Whether the radio is pulled now (as this policy decided).
    public private(set) var isConnected = false
    /// The last tick that saw a listener.
    private var lastListener: ContinuousClock.Instant?

    /// Creates a policy that drops the radio once nobody listened for `idle`; it starts
    /// disconnected.
    public init(idle: Duration) {
        self.idle = idle
    }

    /// Takes whether anyone (player or peer) listens at `now`, and says what to do: connect when
    /// someone listens and the radio is not pulled; disconnect when the radio is pulled and no
    /// tick saw a listener for `idle` or longer (at once, with no idle time).
    public mutating func tick(listening: Bool, now: ContinuousClock.Instant) -> Action {
        if listening {
            self.lastListener = now
            guard !self.isConnected else { return .none }
            self.isConnected = true
            return .connect
        }
        guard self.isConnected, let last = self.lastListener, now - last >= self.idle else { return .none }
        self.isConnected = false
        return .disconnect
    }
}
