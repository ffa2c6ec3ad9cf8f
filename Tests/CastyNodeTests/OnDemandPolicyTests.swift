import CastyNode
import Testing

/// When an on-demand ingest pulls its radio.
@Suite struct OnDemandPolicyTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { self.start + .milliseconds(milliseconds) }

    @Test func nobodyListeningConnectsNothing() {
        var policy = OnDemandPolicy(idle: .seconds(10))
        #expect(policy.tick(listening: false, now: self.at(0)) == .none)
        #expect(policy.tick(listening: false, now: self.at(60_000)) == .none)
        #expect(!policy.isConnected)
    }

    @Test func aListenerArrivingConnectsOnce() {
        var policy = OnDemandPolicy(idle: .seconds(10))
        #expect(policy.tick(listening: true, now: self.at(0)) == .connect)
        #expect(policy.isConnected)
        #expect(policy.tick(listening: true, now: self.at(200)) == .none)
        #expect(policy.tick(listening: true, now: self.at(400)) == .none)
    }

    @Test func theLastListenerLeavingDisconnectsOnlyAfterTheIdleTime() {
        var policy = OnDemandPolicy(idle: .seconds(10))
        #expect(policy.tick(listening: true, now: self.at(0)) == .connect)
        #expect(policy.tick(listening: false, now: self.at(200)) == .none)
        #expect(policy.tick(listening: false, now: self.at(9_999)) == .none)
        #expect(policy.isConnected)
        #expect(policy.tick(listening: false, now: self.at(10_000)) == .disconnect)
        #expect(!policy.isConnected)
        #expect(policy.tick(listening: false, now: self.at(20_000)) == .none, "disconnected once")
    }

    @Test func aListenerComingBackWithinTheIdleTimeKeepsTheRadio() {
        var policy = OnDemandPolicy(idle: .seconds(10))
        #expect(policy.tick(listening: true, now: self.at(0)) == .connect)
        #expect(policy.tick(listening: false, now: self.at(5_000)) == .none)
        #expect(policy.tick(listening: true, now: self.at(8_000)) == .none, "still connected: no second connect")
        // The idle time counts from the last tick that saw a listener.
        #expect(policy.tick(listening: false, now: self.at(12_000)) == .none)
        #expect(policy.tick(listening: false, now: self.at(17_999)) == .none)
        #expect(policy.tick(listening: false, now: self.at(18_000)) == .disconnect)
    }

    @Test func aListenerAfterADisconnectConnectsAgain() {
        var policy = OnDemandPolicy(idle: .seconds(1))
        #expect(policy.tick(listening: true, now: self.at(0)) == .connect)
        #expect(policy.tick(listening: false, now: self.at(1_000)) == .disconnect)
        #expect(policy.tick(listening: true, now: self.at(1_200)) == .connect)
    }

    @Test func withNoIdleTimeTheRadioIsDroppedAtTheFirstTickWithoutListeners() {
        var policy = OnDemandPolicy(idle: .zero)
        #expect(policy.tick(listening: true, now: self.at(0)) == .connect)
        #expect(policy.tick(listening: true, now: self.at(200)) == .none)
        #expect(policy.tick(listening: false, now: self.at(400)) == .disconnect)
        #expect(policy.tick(listening: false, now: self.at(600)) == .none)
    }
}
