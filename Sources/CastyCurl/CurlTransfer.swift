import Atomics
import CCurl
import CastyICY
import NIOCore

/// One GET of an ICY stream with libcurl, run to its end on the calling thread.
///
/// libcurl's header callback collects the reply head and its write callback feeds the body
/// straight into an ``ICYResponseDecoder``; the decoded head and segments are handed to `onEvent`
/// as they come. Heads of redirects that libcurl follows (3xx) are skipped.
public struct CurlTransfer: Sendable {
    /// How to reach the upstream.
    public struct Configuration: Sendable {
        /// The stream's URL (http or https).
        public var url: String
        /// Sent as `User-Agent`.
        public var userAgent: String
        /// More request headers, such as `Icy-MetaData: 1` (always sent) or a peer's credentials.
        public var extraHeaders: [(String, String)]
        /// How long a connect may take.
        public var connectTimeout: Duration
        /// How long the upstream may send nothing before the transfer is given up.
        public var silenceTimeout: Duration
        /// The segment size for streams without `icy-metaint`.
        public var audioOnlySegmentSize: Int
        /// Decoder limits.
        public var limits: ICYDecoderLimits
        /// A PEM file of certificate authorities to trust for https, instead of the system's.
        public var caFile: String?

        /// Creates a configuration with defaults suited to internet radio.
        public init(
            url: String,
            userAgent: String,
            extraHeaders: [(String, String)] = [],
            connectTimeout: Duration = .seconds(5),
            silenceTimeout: Duration = .seconds(5),
            audioOnlySegmentSize: Int = 16_000,
            limits: ICYDecoderLimits = ICYDecoderLimits(),
            caFile: String? = nil
        ) {
            self.caFile = caFile
            self.url = url
            self.userAgent = userAgent
            self.extraHeaders = extraHeaders
            self.connectTimeout = connectTimeout
            self.silenceTimeout = silenceTimeout
            self.audioOnlySegmentSize = audioOnlySegmentSize
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

    /// Runs the transfer until it ends, `stop` becomes true, or `onEvent` throws.
    ///
    /// - Returns: why it ended; `nil` when it was stopped.
    public func run(stop: ManagedAtomic<Bool>, onEvent: @escaping (UpstreamEvent) -> Void) -> UpstreamFailure? {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else {
            return .transport(code: -1, message: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(handle) }

        let state = TransferState(configuration: self.configuration, stop: stop, onEvent: onEvent)
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        var requestHeaders = [("Icy-MetaData", "1")] + self.configuration.extraHeaders
        requestHeaders.removeAll { $0.0.lowercased() == "user-agent" }
        for (name, value) in requestHeaders {
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
        casty_curl_easy_setopt_string(handle, CURLOPT_URL, self.configuration.url)
        casty_curl_easy_setopt_string(handle, CURLOPT_USERAGENT, self.configuration.userAgent)
        casty_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
        casty_curl_easy_setopt_slist(handle, CURLOPT_HTTP200ALIASES, aliases)
        casty_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        casty_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
        casty_curl_easy_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
        casty_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(self.configuration.connectTimeout.milliseconds))
        casty_curl_easy_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        if let caFile = self.configuration.caFile {
            casty_curl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile)
        }
        casty_curl_easy_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        casty_curl_easy_setopt_long(handle, CURLOPT_FAILONERROR, 0)
        casty_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, userdata)
        casty_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, userdata)
        casty_curl_easy_setopt_pointer(handle, CURLOPT_XFERINFODATA, userdata)
        casty_curl_easy_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let state = Unmanaged<TransferState>.fromOpaque(userdata!).takeUnretainedValue()
            return state.header(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        casty_curl_easy_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let state = Unmanaged<TransferState>.fromOpaque(userdata!).takeUnretainedValue()
            return state.body(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        casty_curl_easy_setopt_xferinfo_callback(handle) { userdata, _, _, _, _ in
            let state = Unmanaged<TransferState>.fromOpaque(userdata!).takeUnretainedValue()
            return state.progress() ? 0 : 1
        }

        let code = withExtendedLifetime(state) { curl_easy_perform(handle) }
        if stop.load(ordering: .relaxed) {
            return nil
        }
        if let failure = state.failure {
            return failure
        }
        if code != CURLE_OK {
            return .transport(code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
        if let failure = state.finish() {
            return failure
        }
        return .ended
    }
}

/// The state of one transfer, reached from libcurl's callbacks through their userdata pointer.
/// Used only on the transfer's thread.
private final class TransferState {
    let configuration: CurlTransfer.Configuration
    let stop: ManagedAtomic<Bool>
    let onEvent: (UpstreamEvent) -> Void
    var head = ByteBuffer()
    var headDone = true
    var processor: NIOSingleStepByteToMessageProcessor<ICYResponseDecoder>?
    var failure: UpstreamFailure?
    var lastByte = ContinuousClock.now

    init(configuration: CurlTransfer.Configuration, stop: ManagedAtomic<Bool>, onEvent: @escaping (UpstreamEvent) -> Void) {
        self.configuration = configuration
        self.stop = stop
        self.onEvent = onEvent
    }

    func makeDecoder() -> NIOSingleStepByteToMessageProcessor<ICYResponseDecoder> {
        NIOSingleStepByteToMessageProcessor(
            ICYResponseDecoder(limits: self.configuration.limits, audioOnlySegmentSize: self.configuration.audioOnlySegmentSize)
        )
    }

    /// One header line, including its line ending. A new head starts with a status line.
    func header(_ line: UnsafeRawBufferPointer) -> Bool {
        self.lastByte = .now
        if self.headDone {
            self.head.clear()
            self.headDone = false
        }
        self.head.writeBytes(line)
        guard line.count <= 2, line.allSatisfy({ $0 == 13 || $0 == 10 }) else { return true }
        self.headDone = true
        // The head is complete: decode it with a fresh decoder that will also take the body.
        let processor = self.makeDecoder()
        do {
            try processor.process(buffer: self.head) { part in self.deliver(part) }
            self.processor = processor
            return true
        } catch let error as ICYError {
            if case .unexpectedStatus(let code) = error.kind, (100..<200).contains(code) || (300..<400).contains(code) {
                return true  // libcurl follows redirects itself; the next head is the one that counts.
            }
            if case .unexpectedStatus(let code) = error.kind {
                let firstLine = self.head.readableBytesView.prefix { $0 != 13 && $0 != 10 }
                self.failure = .status(code: code, line: String(decoding: firstLine, as: UTF8.self))
            } else {
                self.failure = .framing(error)
            }
            return false
        } catch {
            self.failure = .transport(code: -1, message: "\(error)")
            return false
        }
    }

    /// Body bytes, after libcurl removed any chunked transfer coding.
    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        self.lastByte = .now
        guard let processor = self.processor else {
            self.failure = .framing(ICYError(.truncated, offset: 0, detail: "body bytes arrived before a complete head"))
            return false
        }
        do {
            try processor.process(buffer: ByteBuffer(bytes: bytes)) { part in self.deliver(part) }
            return true
        } catch let error as ICYError {
            self.failure = .framing(error)
            return false
        } catch {
            self.failure = .transport(code: -1, message: "\(error)")
            return false
        }
    }

    /// Called by libcurl about once a second and while data flows: stop or give up on silence.
    func progress() -> Bool {
        if self.stop.load(ordering: .relaxed) {
            return false
        }
        let quiet = ContinuousClock.now - self.lastByte
        if quiet > self.configuration.silenceTimeout {
            self.failure = .silent(seconds: Double(quiet.milliseconds) / 1000)
            return false
        }
        return true
    }

    /// At the end of the stream: a segment cut short is reported, a clean end is not.
    func finish() -> UpstreamFailure? {
        guard let processor = self.processor else { return nil }
        do {
            try processor.finishProcessing(seenEOF: true) { part in self.deliver(part) }
            return nil
        } catch let error as ICYError {
            return error.kind == .truncated ? nil : .framing(error)
        } catch {
            return nil
        }
    }

    func deliver(_ part: ICYResponsePart) {
        switch part {
        case .head(let head, let framing): self.onEvent(.connected(head, framing: framing))
        case .segment(let segment): self.onEvent(.segment(segment))
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
