import CastyCore
import NIOCore

/// The players connected on one event loop. Confined to that loop: every method runs on it.
final class LoopFanout: @unchecked Sendable {
    let loop: EventLoop
    private var players: [ObjectIdentifier: PlayerSink] = [:]

    init(loop: EventLoop) {
        self.loop = loop
    }

    func add(_ player: PlayerSink) {
        self.loop.preconditionInEventLoop()
        self.players[ObjectIdentifier(player)] = player
    }

    func remove(_ player: PlayerSink) {
        self.loop.preconditionInEventLoop()
        self.players.removeValue(forKey: ObjectIdentifier(player))
    }

    func deliver(_ entry: StreamHub.Entry, hub: StreamHub) {
        self.loop.preconditionInEventLoop()
        for player in self.players.values {
            player.deliver(entry, hub: hub)
        }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let futures = self.players.values.map { $0.channel.close() }
        return EventLoopFuture.andAllComplete(futures, on: self.loop)
    }
}
