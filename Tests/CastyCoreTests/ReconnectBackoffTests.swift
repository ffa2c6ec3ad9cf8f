import CastyCore
import Testing

@Suite struct ReconnectBackoffTests {
    @Test func doublesUpToTheCapAndResets() {
        var backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .milliseconds(700))
        #expect((0..<6).map { _ in backoff.next() } == [100, 200, 400, 700, 700, 700].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }
}
