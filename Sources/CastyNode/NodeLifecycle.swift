import Logging
import NIOPosix
import ServiceLifecycle

/// How a node runs: its services side by side until SIGTERM or SIGINT (or until one of them
/// fails), then its event loops shut down.
enum NodeLifecycle {
    /// Runs `services` in a `ServiceGroup` that stops gracefully on SIGTERM and SIGINT, then
    /// shuts `group` down, also when a service failed. A service in `ending` that returns stops
    /// the group gracefully too (a drained mirror leaving the fleet).
    static func run(_ services: [any Service], ending: [any Service] = [], group: MultiThreadedEventLoopGroup, logger: Logger) async throws {
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }
                    + ending.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
