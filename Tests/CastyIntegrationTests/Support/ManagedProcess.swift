import Foundation

/// Starts `executable` with posix_spawn, its output appended to `log`, its input /dev/null.
/// (posix_spawn and waitpid rather than Foundation's Process, whose waitUntilExit was seen to
/// hang here on scripts that leave daemons behind.)
func spawn(_ executable: String, _ arguments: [String], environment: [String: String], log: URL) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Tests run in parallel: a child must not inherit (and so keep open) another test's sockets.
    // (glibc 2.34+ has posix_spawn_file_actions_addclosefrom_np; Swift's Glibc module hides it.)
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
    }
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard result == 0 else { throw TestFailure("cannot start \(executable): error \(result)") }
    return pid
}

/// A child process whose output goes to a log file, and which is always stopped: by `stop()`,
/// or at the latest when the object goes away.
/// `@unchecked Sendable`: `exitStatus`, its only mutable state, is read and written under `lock`.
final class ManagedProcess: @unchecked Sendable {
    let log: URL
    let name: String
    let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(name: String, executable: URL, arguments: [String], environment: [String: String] = [:], logFolder: URL) throws {
        self.name = name
        self.log = logFolder.appendingPathComponent("\(name).log")
        self.pid = try spawn(executable.path, arguments, environment: environment, log: self.log)
    }

    /// Whether the process has not exited yet (reaps it if it has).
    var isRunning: Bool {
        self.lock.lock()
        defer { self.lock.unlock() }
        if self.exitStatus != nil { return false }
        var status: Int32 = 0
        if waitpid(self.pid, &status, WNOHANG) == self.pid {
            self.exitStatus = Self.decode(status)
            return false
        }
        return true
    }

    /// The log so far.
    func output() -> String {
        (try? String(contentsOf: self.log, encoding: .utf8)) ?? ""
    }

    /// Sends `signal` and waits up to `seconds` for the exit; then SIGKILL. Returns the exit
    /// status (128 + signal number when a signal ended it).
    @discardableResult
    func stop(signal: Int32 = SIGTERM, seconds: Double = 5) -> Int32 {
        if self.isRunning {
            kill(self.pid, signal)
            let deadline = Date().addingTimeInterval(seconds)
            while self.isRunning, Date() < deadline { usleep(20_000) }
            if self.isRunning {
                kill(self.pid, SIGKILL)
                while self.isRunning { usleep(20_000) }
            }
        }
        return self.lock.withLock { self.exitStatus ?? -1 }
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    deinit {
        if self.isRunning {
            kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
        }
    }
}

/// Runs a command to its end and returns its exit status and output (through a file, so that
/// daemons it leaves behind cannot hold us up).
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("casty-cmd-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let pid = try spawn(executable, arguments, environment: environment, log: log)
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) != pid {
        if Date() > deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) took longer than \(timeout) s")
        }
        usleep(20_000)
    }
    return (ManagedProcess.decode(status), (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}
