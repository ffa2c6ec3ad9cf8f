import ArgumentParser
import Foundation

/// A Casty executable: an async command whose `--help` ends with examples a newcomer can paste,
/// and whose errors are one line that says what to do.
public protocol CastyCommand: AsyncParsableCommand {
    /// Command lines that work as they are, each with a comment, printed at the end of `--help`.
    static var examples: [(command: String, comment: String)] { get }
}

extension CastyCommand {
    /// Parses the command line and runs the command, as `AsyncParsableCommand.main()` does, with
    /// two differences: `--help` ends with ``examples``, and an error is printed as one line that
    /// names the command (and, for a mistyped command line, points to `--help`) instead of the
    /// whole usage block.
    public static func castyMain(_ arguments: [String]? = nil) async {
        do {
            var command = try await Self.asyncParseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch where Self.exitCode(for: error) == .success {
            // `--help` or `--version`.
            let message = Self.fullMessage(for: error)
            print(message.contains("USAGE:") ? message + "\n\n" + Self.examplesSection : message)
            Self.exit(withError: nil)
        } catch {
            FileHandle.standardError.write(Data((Self.oneLine(for: error) + "\n").utf8))
            Self.exit(withError: ExitCode(Self.exitCode(for: error).rawValue))
        }
    }

    /// The `EXAMPLES:` section that ends `--help`.
    public static var examplesSection: String {
        "EXAMPLES:\n" + Self.examples.map { "  # \($0.comment)\n  \($0.command)" }.joined(separator: "\n")
    }

    /// One line for an error, such as `casty-ingest: error: Unknown option '--prot'. Did you mean
    /// '--port'? (casty-ingest --help lists every option)`.
    public static func oneLine(for error: Error) -> String {
        let name = Self.configuration.commandName ?? "casty"
        let message = Self.message(for: error)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        let isUsageError = Self.exitCode(for: error) == .validationFailure
        return "\(name): error: \(message)" + (isUsageError ? " (\(name) --help lists every option)" : "")
    }
}
