import CastyICY
import NIOCore

/// What a ``CurlTransfer`` does with what it receives. Called on the transfer's thread.
public protocol CurlStreamHandler: AnyObject {
    /// The final reply head (heads of followed redirects and 1xx are skipped). Throw to refuse it.
    func received(head: ICYResponseHead) throws(UpstreamFailure)
    /// Body bytes, after libcurl removed any chunked coding. Throw to end the transfer.
    func received(body: ByteBuffer) throws(UpstreamFailure)
    /// The body ended (the server closed). Throw if it ended mid-message.
    func finished() throws(UpstreamFailure)
}
