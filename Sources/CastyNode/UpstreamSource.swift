import CastyUpstream

/// Where an ingest pulls its radio from: the transport ``UpstreamService`` drives. The real one
/// is ``CastyUpstream/UpstreamPuller`` (libcurl on a thread of its own); tests use fakes.
///
/// A source is started at most once; after ``stop()`` a new one is made.
public protocol UpstreamSource: Sendable {
    /// Starts pulling. The source reports how it goes through `onStatus` and hands on what the
    /// radio sends through `onEvent` (a head at every connection, then segments), in order.
    func start(
        onStatus: @escaping @Sendable (UpstreamPuller.Status) -> Void,
        onEvent: @escaping @Sendable (UpstreamEvent) -> Void
    )

    /// Stops pulling and returns once no callback runs any more.
    func stop() async
}
