import CastyICY
import CastyStream

// A fleet's ingest while it is not the root, and its takeover (see ``StandbyStream``): its own
// radio goes to the hub as at any ingest, through the radio's sink, and the hub keeps it aside
// until the role says take over.

extension StreamHub {
    /// This fleet ingest follows the root (or waits to know who is root): from now on the
    /// root's segments, taken with ``receive(seq:segment:)``, are the stream; its own radio's
    /// segments, context and state are kept aside for a takeover. Called again at every new link
    /// to the root, it starts a fresh splice. With `resettingStream` (a root that stepped down),
    /// what it numbered as root is dropped at once, under the same lock, so that no segment of
    /// its own radio reaches a listener after it: it resyncs from the root's newest segment.
    public func standBy(resettingStream: Bool = false) {
        let reset = self.withState { state -> Bool in
            state.standby = state.standby?.restarted() ?? StandbyStream()
            self.arrival.clear()
            guard resettingStream, state.ledger.reset(identity: StreamIdentity(value: "none"), nextSeq: nil) else { return false }
            state.handoffs.append(.streamChanged)
            return true
        }
        if reset { self.logger.notice("dropped the stream numbered as root: following the root's") }
    }

    /// This fleet ingest becomes the root: its own radio becomes the stream, numbered on from the
    /// last segment taken from the old root and spliced onto its audio (what the splice can
    /// already send is sent now). The own radio's context is the stream's if the root gave none,
    /// and its state the upstream's. Returns the splice's outcome, `nil` while it waits for more
    /// of the own radio (``publish(_:)`` logs it once decided).
    @discardableResult
    public func takeOver() -> ReconnectSplicer.Outcome? {
        let (context, taken, outcome) = self.withState { state -> (StreamLedger.Notes?, [StreamLedger.Notes], ReconnectSplicer.Outcome?) in
            guard state.standby != nil, !state.standby!.tookOver else { return (nil, [], nil) }
            var context: StreamLedger.Notes?
            if let own = state.standby!.ownContext, state.ledger.context.headers.isEmpty {
                context = state.ledger.setContext(own, checkBytes: true)
                Self.forward(context!, into: &state)
            }
            let taken = state.standby!.splicer.takeOver().map { self.number($0, in: &state) }
            state.upstream = state.standby!.ownState
            self.arrival.clear()
            return (context, taken, state.standby!.splicer.lastOutcome)
        }
        if let context { self.report(context) }
        for notes in taken { self.report(notes, taken: true) }
        return outcome
    }

    /// The radio accepted a connection: its reply head is the stream's context (its next
    /// segment's bytes confirm or correct the format), or, at a fleet ingest that follows the
    /// root, kept for a takeover.
    public func radioConnected(_ context: StreamContext) {
        let notes = self.withState { state -> StreamLedger.Notes? in
            state.standby?.ownContext = context
            if let standby = state.standby, !standby.tookOver { return nil }
            let notes = state.ledger.setContext(context, checkBytes: true)
            Self.forward(notes, into: &state)
            return notes
        }
        if let notes { self.report(notes) }
    }

    /// How the radio is doing: the upstream's state, or, at a fleet ingest that follows the root
    /// (whose upstream is the link to the root), kept for a takeover.
    public func setRadioState(_ radio: UpstreamState) {
        self.state.withLockedValue { state in
            state.standby?.ownState = radio
            if let standby = state.standby, !standby.tookOver { return }
            state.upstream = radio
        }
    }

    /// The newest segment from the root taken since the last call, and when: what the role's
    /// silence clock needs, told to it just before its next change so that it never misses or
    /// reorders an arrival. Lock-free: it may be called under the role's lock.
    public func takeArrival() -> (seq: UInt64, at: ContinuousClock.Instant)? {
        self.arrival.take()
    }
}
