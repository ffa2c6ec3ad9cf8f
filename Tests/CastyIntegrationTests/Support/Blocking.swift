import Foundation
import Synchronization

/// Runs blocking work (sockets, waiting for processes) on a thread of its own, so that tests
/// running in parallel never starve Swift's cooperative thread pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// A test failure with a message that says what was expected.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass.
func eventually(within seconds: Double, _ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure("timed out after \(seconds) s waiting for: \(what)")
}

/// A flag set once, from any thread: an event a test waits for (`eventually { latch.isSet }`).
final class Latch: Sendable {
    private let state = Mutex(false)
    func set() { self.state.withLock { $0 = true } }
    var isSet: Bool { self.state.withLock { $0 } }
}
