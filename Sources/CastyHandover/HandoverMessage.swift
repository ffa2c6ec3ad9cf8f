import Foundation

/// A message of the hand-over dialogue on a node's control socket (docs/PROTOCOL.md, "Hand-over
/// to a new binary"):
///
///     new → old   hello(formatVersions, binaryVersion, pid)
///     old → new   state(…) with the sockets, or refused(reason)
///     new → old   ready, or refused(reason)
///     old → new   go
///
/// On the wire each message is a 4-byte big-endian length, then that many bytes of JSON: an object
/// with one key, the message's name.
public enum HandoverMessage: Equatable, Sendable {
    /// The new process asks to take over; it reads these ``HandoverState`` layouts.
    case hello(formatVersions: [Int], binaryVersion: String, pid: Int32)
    /// The old process's state; its sockets travel with the message's first bytes.
    case state(HandoverState)
    /// The new process has everything in place and writes nothing until `go`.
    case ready
    /// The old process has let go: the new one serves from now on.
    case go
    /// The sender will not go on, for this reason.
    case refused(String)

    /// The largest message accepted (the ring of a 320 kbit/s stream is about 1.2 MB).
    public static let maxLength = 64 * 1024 * 1024

    /// The message's bytes on the wire.
    public func encoded() -> [UInt8] {
        let body = (try? JSONEncoder().encode(Wire(self))) ?? Data()
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + Array(body)
    }

    /// The JSON form: exactly one of the fields is set.
    struct Wire: Codable {
        struct Hello: Codable {
            var formatVersions: [Int]
            var binaryVersion: String
            var pid: Int32
        }
        struct Refused: Codable { var reason: String }
        struct Empty: Codable {}

        var hello: Hello?
        var state: HandoverState?
        var ready: Empty?
        var go: Empty?
        var refused: Refused?

        init(_ message: HandoverMessage) {
            switch message {
            case .hello(let versions, let binary, let pid): self.hello = Hello(formatVersions: versions, binaryVersion: binary, pid: pid)
            case .state(let state): self.state = state
            case .ready: self.ready = Empty()
            case .go: self.go = Empty()
            case .refused(let reason): self.refused = Refused(reason: reason)
            }
        }

        var message: HandoverMessage? {
            let set = [self.hello != nil, self.state != nil, self.ready != nil, self.go != nil, self.refused != nil].filter { $0 }.count
            guard set == 1 else { return nil }
            if let hello { return .hello(formatVersions: hello.formatVersions, binaryVersion: hello.binaryVersion, pid: hello.pid) }
            if let state { return .state(state) }
            if self.ready != nil { return .ready }
            if self.go != nil { return .go }
            return self.refused.map { .refused($0.reason) }
        }
    }
}

/// Cuts ``HandoverMessage``s out of the bytes read from a control socket, whatever their split.
/// Fed bytes, it hands back each whole message, or nil when it needs more; it never re-reads
/// what it has seen (a message's JSON is parsed once, when its last byte arrives).
public struct HandoverMessageDecoder: Sendable {
    /// Why bytes are not a hand-over message.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// A length over ``HandoverMessage/maxLength``.
        case tooLong(Int)
        /// A body that is not one of the messages; a state whose layout this binary cannot read
        /// is reported as ``unreadableState(_:)``.
        case malformed(String)
        /// A state of a layout version this binary does not read.
        case unreadableState(formatVersion: Int)

        public var description: String {
            switch self {
            case .tooLong(let length): "a hand-over message of \(length) bytes is over the limit of \(HandoverMessage.maxLength)"
            case .malformed(let reason): "not a hand-over message: \(reason)"
            case .unreadableState(let version):
                "the running node's state has layout version \(version); this binary reads version \(HandoverState.currentFormatVersion)"
            }
        }
    }

    private var buffer: [UInt8] = []
    private var start = 0

    /// Creates an empty decoder.
    public init() {}

    /// Takes more bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        self.buffer.append(contentsOf: bytes)
    }

    /// The next whole message, or nil when more bytes are needed.
    public mutating func next() throws(Failure) -> HandoverMessage? {
        guard self.buffer.count - self.start >= 4 else { return nil }
        let length = self.buffer[self.start..<self.start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= HandoverMessage.maxLength else { throw .tooLong(length) }
        guard self.buffer.count - self.start - 4 >= length else { return nil }
        let body = Data(self.buffer[(self.start + 4)..<(self.start + 4 + length)])
        self.start += 4 + length
        if self.start == self.buffer.count {
            self.buffer.removeAll(keepingCapacity: true)
            self.start = 0
        }
        // The layout version first, so that a newer layout is named as such, not as malformed.
        if let probe = try? JSONDecoder().decode(VersionProbe.self, from: body), let version = probe.state?.formatVersion,
            version != HandoverState.currentFormatVersion
        {
            throw .unreadableState(formatVersion: version)
        }
        let wire: HandoverMessage.Wire
        do {
            wire = try JSONDecoder().decode(HandoverMessage.Wire.self, from: body)
        } catch {
            throw .malformed("\(error)")
        }
        guard let message = wire.message else { throw .malformed("not exactly one message in \(length) bytes") }
        return message
    }

    /// Reads only a state's layout version.
    private struct VersionProbe: Decodable {
        struct Version: Decodable { var formatVersion: Int }
        var state: Version?
    }

    /// Bytes fed but not yet part of a whole message.
    public var pendingBytes: Int { self.buffer.count - self.start }
}
