import CastyUpstream

/// Where an ingest pulls its radio from: the transport ``UpstreamService`` drives. The real one
/// is ``CastyUpstream/UpstreamPuller`` (libcurl on a thread of its own); tests use fakes.
///
/// A source is started at most once; after ``stop()`` a new one is made.
public protocol UpstreamSource: Sendable {
    /// Starts pulling. What the radio sends (a head at every connection, then segments) goes
    /// straight to `sink`, in order; the source reports how it goes through `onStatus`.
    func start(sink: any RadioSink, onStatus: @escaping @Sendable (UpstreamPuller.Status) -> Void)

    /// Stops pulling and returns once nothing is called any more.
    func stop() async
}
