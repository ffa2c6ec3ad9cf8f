import CastyFuzzDrivers
import CastyStream
import Testing

@Suite struct ReconnectBackoffTests {
    @Test func doublesUpToTheCapAndResets() {
        var backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .milliseconds(700))
        #expect((0..<6).map { _ in backoff.next() } == [100, 200, 400, 700, 700, 700].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func jitterKeepsEachDelayBetweenItsShareAndTheFullDelay() {
        var generator = SplitMix64(seed: 7)
        var backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .milliseconds(400), jitter: 0.5)
        var firsts: [Duration] = []
        for _ in 0..<200 {
            backoff.reset()
            let delays = (0..<4).map { _ in backoff.next(using: &generator) }
            for (delay, full) in zip(delays, [100, 200, 400, 400].map { Duration.milliseconds($0) }) {
                #expect(delay > full / 2 && delay <= full)
            }
            firsts.append(delays[0])
        }
        // Spread over the whole range: both halves of (50, 100] ms are used.
        #expect(firsts.contains { $0 < .milliseconds(75) } && firsts.contains { $0 > .milliseconds(75) })
    }
}
