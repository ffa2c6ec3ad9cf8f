import ArgumentParser
import Logging

/// The logging options every Casty executable shares.
public struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level = .info

    public init() {}

    /// Sends logs to standard error at the chosen level, and returns a logger for `label` that
    /// carries the node's name as metadata.
    public func bootstrap(label: String, nodeName: String) -> Logger {
        let level = self.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger[metadataKey: "node.name"] = "\(nodeName)"
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
