import Testing

/// Waits until `condition` holds, checking every 5 ms; after `timeout`, records an issue and
/// throws, so that the test stops there (what follows would assume the condition). What a test
/// waits for instead of sleeping: generous by default, because the whole suite shares two cores
/// with the simulations, and as quick as the event itself when all is well.
public func eventually(
    within timeout: Duration = .seconds(20), _ what: String, _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw TimedOut(what: what)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A wait that timed out (the issue is recorded already).
public struct TimedOut: Error {
    public var what: String
}
