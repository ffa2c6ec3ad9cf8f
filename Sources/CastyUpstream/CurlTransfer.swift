import Atomics
import CCurl
import CastyICY
import NIOCore

/// One GET with libcurl, run to its end on the calling thread.
///
/// libcurl's header callback collects the reply head (skipping heads of redirects that libcurl
/// follows itself, and 1xx), its write callback hands the body to a ``CurlStreamHandler``: the
/// first of a segment's hops, on the thread of the ``TransferWorker`` that runs the transfer.
/// The transfer runs on libcurl's multi interface, polled every 50 ms, so that a stop request
/// or a silent server is noticed within 50 ms; and nothing that arrives once the stop flag is set
/// (a header line or body bytes) is handed on: a mirror told to leave its parent takes nothing
/// more of it.
public struct CurlTransfer: Sendable {
    /// How to reach the server.
    public struct Configuration: Sendable {
        /// The URL (http or https).
        public var url: String
        /// Sent as `User-Agent`.
        public var userAgent: String
        /// More request headers; `Icy-MetaData: 1` is always sent.
        public var extraHeaders: [(String, String)]
        /// How long a connect may take.
        public var connectTimeout: Duration
        /// How long the server may send nothing before the transfer is given up.
        public var silenceTimeout: Duration
        /// A PEM file of certificate authorities to trust for https, instead of the system's.
        public var caFile: String?
        /// Limits on the reply head.
        public var limits: ICYDecoderLimits

        /// Creates a configuration with defaults suited to internet radio.
        public init(
            url: String,
            userAgent: String,
            extraHeaders: [(String, String)] = [],
            connectTimeout: Duration = .seconds(5),
            silenceTimeout: Duration = .seconds(5),
            caFile: String? = nil,
            limits: ICYDecoderLimits = ICYDecoderLimits()
        ) {
            self.url = url
            self.userAgent = userAgent
            self.extraHeaders = extraHeaders
            self.connectTimeout = connectTimeout
            self.silenceTimeout = silenceTimeout
            self.caFile = caFile
            self.limits = limits
        }
    }

    /// The configuration.
    public var configuration: Configuration

    /// Creates a transfer.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
    }()

    /// Runs the transfer until it ends, `stop` becomes true, or the handler throws. `stop` is the
    /// transfer's stop condition (``TransferWorker/Context/stopFlag``): polled every 50 ms, and
    /// read before anything received is handed to `handler`.
    ///
    /// - Returns: why it ended; `nil` when it was stopped.
    public func run(stop: ManagedAtomic<Bool>, handler: CurlStreamHandler) -> UpstreamFailure? {
        _ = Self.globalInit
        guard let easy = curl_easy_init(), let multi = curl_multi_init() else {
            return .transport(code: -1, message: "libcurl could not be initialised")
        }
        defer {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
            curl_multi_cleanup(multi)
        }

        let state = TransferState(limits: self.configuration.limits, handler: handler, stop: stop)
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in [("Icy-MetaData", "1")] + self.configuration.extraHeaders where name.lowercased() != "user-agent" {
            headers = curl_slist_append(headers, "\(name): \(value)")
        }
        // libcurl 7.88 takes `ICY 200 OK` for HTTP/0.9 unless it is listed as a 200 alias.
        var aliases: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "ICY")
        aliases = curl_slist_append(aliases, "ICY 200 OK")
        defer {
            curl_slist_free_all(headers)
            curl_slist_free_all(aliases)
        }

        let userdata = Unmanaged.passUnretained(state).toOpaque()
        casty_curl_easy_setopt_string(easy, CURLOPT_URL, self.configuration.url)
        casty_curl_easy_setopt_string(easy, CURLOPT_USERAGENT, self.configuration.userAgent)
        casty_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers)
        casty_curl_easy_setopt_slist(easy, CURLOPT_HTTP200ALIASES, aliases)
        casty_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        casty_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1)
        casty_curl_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 10)
        casty_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(self.configuration.connectTimeout.milliseconds))
        casty_curl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        if let caFile = self.configuration.caFile {
            casty_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile)
        }
        casty_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata)
        casty_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata)
        casty_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let state = Unmanaged<TransferState>.fromOpaque(userdata!).takeUnretainedValue()
            return state.header(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        casty_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let state = Unmanaged<TransferState>.fromOpaque(userdata!).takeUnretainedValue()
            return state.body(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }

        curl_multi_add_handle(multi, easy)
        let result: CURLcode? = withExtendedLifetime(state) {
            var running: Int32 = 1
            while true {
                curl_multi_perform(multi, &running)
                if running == 0 { break }
                if stop.load(ordering: .relaxed) || state.failure != nil { return nil }
                let quiet = ContinuousClock.now - state.lastByte
                if quiet > self.configuration.silenceTimeout {
                    state.failure = .silent(seconds: Double(quiet.milliseconds) / 1000)
                    return nil
                }
                curl_multi_poll(multi, nil, 0, 50, nil)
            }
            var pending: Int32 = 0
            while let message = curl_multi_info_read(multi, &pending) {
                if message.pointee.msg == CURLMSG_DONE { return message.pointee.data.result }
            }
            return nil
        }
        if stop.load(ordering: .relaxed) { return nil }
        if let failure = state.failure { return failure }
        if let result, result != CURLE_OK {
            return .transport(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result)))
        }
        do {
            try handler.finished()
        } catch {
            return error
        }
        return .ended
    }
}

/// The state of one transfer, reached from libcurl's callbacks through their userdata pointer.
/// Used only on the transfer's thread.
final class TransferState {
    let handler: CurlStreamHandler
    let limits: ICYDecoderLimits
    /// The transfer's stop condition.
    let stop: ManagedAtomic<Bool>
    var headDecoder: NIOSingleStepByteToMessageProcessor<ICYResponseHeadDecoder>
    var accepted = false
    var failure: UpstreamFailure?
    var lastByte = ContinuousClock.now

    init(limits: ICYDecoderLimits, handler: CurlStreamHandler, stop: ManagedAtomic<Bool>) {
        self.limits = limits
        self.handler = handler
        self.stop = stop
        self.headDecoder = NIOSingleStepByteToMessageProcessor(ICYResponseHeadDecoder(limits: limits))
    }

    /// One header line, including its line ending; `false` ends the transfer.
    func header(_ line: UnsafeRawBufferPointer) -> Bool {
        self.lastByte = .now
        // Told to stop: nothing more is handed on (the transfer ends as stopped, not failed).
        guard !self.stop.load(ordering: .relaxed) else { return false }
        do {
            var head: ICYResponseHead?
            try self.headDecoder.process(buffer: ByteBuffer(bytes: line)) { head = $0 }
            guard let head else { return true }
            let code = head.status.code
            if (100..<200).contains(code) || ((300..<400).contains(code) && head.headers.contains(name: "location")) {
                return true  // libcurl follows redirects itself; the next head is the one that counts.
            }
            try self.handler.received(head: head)
            self.accepted = true
            return true
        } catch let error as ICYError {
            self.failure = .framing(error)
        } catch let error as UpstreamFailure {
            self.failure = error
        } catch {
            self.failure = .transport(code: -1, message: "\(error)")
        }
        return false
    }

    /// Body bytes; `false` ends the transfer.
    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        self.lastByte = .now
        // Told to stop: nothing more is handed on (the transfer ends as stopped, not failed).
        guard !self.stop.load(ordering: .relaxed) else { return false }
        guard self.accepted else {
            self.failure = .framing(ICYError(.truncated, offset: 0, detail: "body bytes arrived before a complete head"))
            return false
        }
        do {
            try self.handler.received(body: ByteBuffer(bytes: bytes))
            return true
        } catch {
            self.failure = error
            return false
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
