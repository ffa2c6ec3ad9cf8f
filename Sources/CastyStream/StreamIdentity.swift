/// Tells one run of an ingest from another: segment numbers restart with a new identity, so a
/// node that sees a new identity knows it must resync instead of waiting for old numbers.
public struct StreamIdentity: Hashable, Sendable, CustomStringConvertible {
    /// 16 lowercase hex digits.
    public let value: String

    /// A new random identity.
    public static func random() -> StreamIdentity {
        var generator = SystemRandomNumberGenerator()
        let bits = generator.next() as UInt64
        let hex = String(bits, radix: 16)
        return StreamIdentity(value: String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// Wraps an identity received from elsewhere.
    public init(value: String) {
        self.value = value
    }

    public var description: String { self.value }
}
