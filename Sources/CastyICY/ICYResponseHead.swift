import NIOHTTP1

/// The head of an ICY reply: status line and headers (the stream's *context*).
public struct ICYResponseHead: Equatable, Sendable {
    /// The status line.
    public var status: ICYStatusLine
    /// The headers in the order they were sent; look-ups ignore case.
    public var headers: HTTPHeaders

    /// Creates a reply head.
    public init(status: ICYStatusLine = .icyOK, headers: HTTPHeaders = [:]) {
        self.status = status
        self.headers = headers
    }

    /// The `icy-metaint` header's raw value, if present.
    public var metaintValue: String? {
        self.headers.first(name: "icy-metaint").map { String($0.trimmingASCIISpaces()) }
    }

    /// The metadata interval: validated `icy-metaint`, or `nil` when the header is absent.
    ///
    /// - Throws: ``ICYError`` with kind `invalidMetaint` when the value is not a positive number
    ///   no larger than `limits.maxMetaint`.
    public func metaint(limits: ICYDecoderLimits = ICYDecoderLimits()) throws(ICYError) -> Int? {
        guard let raw = self.metaintValue else { return nil }
        return try Self.validateMetaint(raw, limits: limits, offset: 0)
    }

    static func validateMetaint(_ raw: String, limits: ICYDecoderLimits, offset: Int) throws(ICYError) -> Int {
        guard !raw.isEmpty, raw.utf8.count <= 10, raw.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = Int(raw)
        else {
            throw ICYError(.invalidMetaint, offset: offset, detail: "icy-metaint '\(raw.prefix(40))' is not a number")
        }
        guard value > 0 else {
            throw ICYError(.invalidMetaint, offset: offset, detail: "icy-metaint is 0; the interval must be at least 1 byte")
        }
        guard value <= limits.maxMetaint else {
            throw ICYError(
                .invalidMetaint,
                offset: offset,
                detail: "icy-metaint \(value) is larger than the limit of \(limits.maxMetaint) bytes"
            )
        }
        return value
    }
}
