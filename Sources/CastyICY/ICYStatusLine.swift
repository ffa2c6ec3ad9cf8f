/// The first line of an ICY reply: `ICY 200 OK`, `HTTP/1.0 200 OK` or `HTTP/1.1 200 OK`.
public struct ICYStatusLine: Hashable, Sendable, CustomStringConvertible {
    /// The protocol word before the code: `ICY`, `HTTP/1.0` or `HTTP/1.1`.
    public var protocolName: String
    /// The status code, such as 200.
    public var code: Int
    /// The reason phrase, such as `OK`; may be empty.
    public var reason: String

    /// Creates a status line.
    public init(protocolName: String, code: Int, reason: String) {
        self.protocolName = protocolName
        self.code = code
        self.reason = reason
    }

    /// `ICY 200 OK`, what SHOUTcast v1 servers send; media players accept it, browsers do not.
    public static let icyOK = ICYStatusLine(protocolName: "ICY", code: 200, reason: "OK")
    /// `HTTP/1.0 200 OK`, what every client accepts, browsers included.
    public static let http10OK = ICYStatusLine(protocolName: "HTTP/1.0", code: 200, reason: "OK")

    /// Whether the code is a success (2xx).
    public var isSuccess: Bool { (200..<300).contains(self.code) }

    /// The line as sent: the code always has three digits (`ICY 099` stays `ICY 099`).
    public var description: String {
        let digits = String(self.code)
        let code = String(repeating: "0", count: max(0, 3 - digits.count)) + digits
        return self.reason.isEmpty ? "\(self.protocolName) \(code)" : "\(self.protocolName) \(code) \(self.reason)"
    }
}
