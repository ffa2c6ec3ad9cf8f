import CastyICY
import Foundation
import NIOCore

/// A blocking TCP client that plays the part of a player: sends a request, then reads for a
/// while. Everything it reads is kept, split into head and body.
struct StreamClient {
    /// What a client received.
    struct Received: Sendable {
        var head: String
        var body: [UInt8]
        /// Seconds since the request was sent, for each read, with the body length after it.
        var timeline: [(seconds: Double, bodyBytes: Int)]
        var closedByServer: Bool
        /// The client's own port: the same for the whole read, one connection.
        var localPort: Int = 0

        /// When the request was sent.
        var startedAt = Date()

        /// The longest wait between two reads that brought body bytes, after the first.
        var longestPause: Double { self.pauses.map(\.seconds).max() ?? 0 }

        /// Every wait between two reads that brought body bytes: when it began, and how long.
        var pauses: [(began: Date, seconds: Double)] {
            var last: (Double, Int)?
            var result: [(began: Date, seconds: Double)] = []
            for (seconds, bytes) in self.timeline where bytes > 0 {
                if let (previous, previousBytes) = last, bytes > previousBytes {
                    result.append((self.startedAt.addingTimeInterval(previous), seconds - previous))
                }
                if last == nil || bytes > last!.1 { last = (seconds, bytes) }
            }
            return result
        }

        /// The longest wait that overlapped `window` (it ended after its start and began before its end).
        func longestPause(during window: ClosedRange<Date>) -> Double {
            self.pauses.filter { $0.began <= window.upperBound && $0.began.addingTimeInterval($0.seconds) >= window.lowerBound }.map(\.seconds).max() ?? 0
        }

        /// The value of a header of the head (case-insensitive), if present.
        func header(_ name: String) -> String? {
            for line in self.head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }

        var statusLine: String { String(self.head.split(separator: "\r\n").first ?? "") }

        /// Audio and titles, decoding the body with `metaint` (or all audio without).
        func audioAndTitles() throws -> (audio: [UInt8], titles: [String]) {
            guard let metaint = self.header("icy-metaint").flatMap(Int.init) else { return (self.body, []) }
            let processor = NIOSingleStepByteToMessageProcessor(ICYSegmentDecoder(framing: .metadata(interval: metaint)))
            var audio: [UInt8] = []
            var titles: [String] = []
            try processor.process(buffer: ByteBuffer(bytes: self.body)) { segment in
                audio += segment.audio.readableBytesView
                if segment.metadata.readableBytes > 0, let title = ICYMetadata(parsing: segment.metadataText).streamTitle {
                    titles.append(title)
                }
            }
            return (audio, titles)
        }
    }

    /// Connects to `127.0.0.1:port`, sends `request`, reads for `seconds` (or until the server
    /// closes, or `maxBytes`). `answered` is set once the server's whole head is in: from then on
    /// the player is connected (a test waits for that rather than sleeping).
    static func fetch(port: Int, request: String, seconds: Double, maxBytes: Int = 64 << 20, answered: Latch? = nil) throws -> Received {
        let fd = try self.connect(port: port, request: request)
        defer { close(fd) }
        var received = try self.read(fd: fd, seconds: seconds, maxBytes: maxBytes, answered: answered)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) } }
        received.localPort = Int(UInt16(bigEndian: address.sin_port))
        return received
    }

    /// A player that never reads: connects with a tiny receive buffer, sends `request`, waits
    /// `seconds`, then drains. Returns whether the server had closed the connection.
    static func stall(port: Int, request: String, seconds: Double) throws -> Bool {
        let fd = try self.connect(port: port, request: request, receiveBuffer: 2048)
        defer { close(fd) }
        Thread.sleep(forTimeInterval: seconds)
        return try self.read(fd: fd, seconds: 10, maxBytes: 64 << 20).closedByServer
    }

    /// A connected socket (close-on-exec, so spawned processes never keep it open) that has sent `request`.
    private static func connect(port: Int, request: String, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        let bytes = Array(request.utf8)
        guard connected, bytes.isEmpty || send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            close(fd)
            throw TestFailure("cannot connect to 127.0.0.1:\(port) and send the request")
        }
        return fd
    }

    /// A player's request.
    static func playerRequest(path: String = "/", metadata: Bool, extra: String = "") -> String {
        "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: CastyTest/1\r\n" + (metadata ? "Icy-MetaData: 1\r\n" : "") + extra + "\r\n"
    }

    private static func read(fd: Int32, seconds: Double, maxBytes: Int, answered: Latch? = nil) throws -> Received {
        let start = Date()
        var all: [UInt8] = []
        var timeline: [(Double, Int)] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var closed = false
        var headEnd: Int?
        while true {
            let remaining = seconds - Date().timeIntervalSince(start)
            if remaining <= 0 || all.count >= maxBytes { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(remaining * 1000, 200))))
            if ready <= 0 { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 {
                closed = true
                break
            }
            all += buffer[0..<n]
            if headEnd == nil, let range = Self.findHeadEnd(all) {
                headEnd = range
                answered?.set()
            }
            timeline.append((Date().timeIntervalSince(start), headEnd.map { all.count - $0 } ?? 0))
        }
        let end = headEnd ?? all.count
        return Received(
            head: String(decoding: all[0..<min(end, all.count)], as: UTF8.self),
            body: Array(all[min(end, all.count)...]),
            timeline: timeline,
            closedByServer: closed,
            startedAt: start
        )
    }

    private static func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

/// Where `needle` starts in `haystack`, if it does.
func find(_ needle: ArraySlice<UInt8>, in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    let first = needle.first!
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first, haystack[i..<i + needle.count].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

/// Checks that `relayed` is, byte for byte, a stretch of `reference`: a window from its middle is
/// found in `reference`, and from there every byte both cover is equal. Returns the bytes compared.
func assertSameAudio(_ relayed: [UInt8], in reference: [UInt8], window: Int = 32 * 1024) throws -> Int {
    guard relayed.count >= 2 * window else { throw TestFailure("relayed audio too short: \(relayed.count) bytes") }
    let start = relayed.count / 2 - window / 2
    guard let at = find(relayed[start..<start + window], in: reference) else {
        throw TestFailure("a 32 KiB window of the relayed audio does not occur in the reference audio")
    }
    let shift = at - start
    let from = max(0, -shift)
    let to = min(relayed.count, reference.count - shift)
    for i in from..<to where relayed[i] != reference[i + shift] {
        throw TestFailure("relayed audio differs from the reference at relayed byte \(i)")
    }
    return to - from
}
