import Foundation

/// A task executor with a thread of its own. Tests that measure how soon something happens run
/// on one (``onDedicatedThread(_:)``), so that they never wait for Swift's cooperative pool, which
/// CPU-bound tests of other suites running at the same time may keep busy for seconds.
///
/// `@unchecked Sendable`: `jobs`, its only mutable state, is used under `condition`'s lock.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
public final class DedicatedExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []  // guarded by `condition`

    /// Starts the executor's thread, called `name`.
    public init(name: String = "test-executor") {
        let thread = Thread { [self] in self.serve() }
        thread.name = name
        thread.start()
    }

    /// Queues `job` for the executor's thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.condition.lock()
        self.jobs.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Runs jobs one at a time, for as long as the test process lives.
    private func serve() {
        while true {
            self.condition.lock()
            while self.jobs.isEmpty { self.condition.wait() }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// Runs `body` (and the child tasks it makes) on a new thread of its own, not on the cooperative pool.
public func onDedicatedThread<T>(_ body: () async throws -> T) async throws -> T {
    if #available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *) {
        return try await withTaskExecutorPreference(DedicatedExecutor(), operation: body)
    }
    return try await body()
}
